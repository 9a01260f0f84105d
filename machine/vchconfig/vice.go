package vchconfig

import (
	"fmt"

	"github.com/vchproject/vch/internal/vice"
)

// Appliance is what a vSphere VCH's vchd knows of itself rather than from
// vSphere: its state directory, API address and TLS files (made on the
// endpoint VM), and the login user when the VCH has no ops user (the
// password then comes from VCH_VSPHERE_PASSWORD).
type Appliance struct {
	Root         string   `json:"root"`
	APIAddr      string   `json:"apiAddr"`
	CACert       string   `json:"caCert,omitempty"`
	ServerCert   string   `json:"serverCert,omitempty"`
	ServerKey    string   `json:"serverKey,omitempty"`
	NoTLS        bool     `json:"noTLS,omitempty"`
	NoTLSVerify  bool     `json:"noTLSVerify,omitempty"`
	ClientCAFile string   `json:"clientCAFile,omitempty"`
	TLSCNames    []string `json:"tlsCNames,omitempty"`
	// User logs in when the VCH has no ops user.
	User string `json:"user,omitempty"`
	// Insecure skips the thumbprint check (never on a real target).
	Insecure      bool   `json:"insecure,omitempty"`
	KernelDir     string `json:"kernelDir,omitempty"`
	TetherPath    string `json:"tetherPath,omitempty"`
	Accel         string `json:"accel,omitempty"`
	SyslogAddress string `json:"syslogAddress,omitempty"`
	// RegistryCAFile holds the config's registry CAs (registry.ca), if any.
	RegistryCAFile string `json:"registryCAFile,omitempty"`
	// Serial is the listen address of the serial concentrator the
	// container VMs' tethers connect to (the appliance's own port, as
	// VIC's vSPC on 2377); SerialAddr what the VMs dial, if not Serial.
	Serial     string `json:"serial,omitempty"`
	SerialAddr string `json:"serialAddr,omitempty"`
	// Endpoint: vchd runs in the endpoint VM itself (the appliance), so
	// it may hot-add NICs to that VM and configure them (vsphere.endpointVM).
	Endpoint bool `json:"endpoint,omitempty"`
	// SimBacking, for govmomi's simulator only, backs each container VM
	// with a docker container (vsphere.simBacking).
	SimBacking []string `json:"simBacking,omitempty"`
}

// FromVice is vchd's config of the vSphere VCH whose guestinfo.vice
// config (written by vic-machine create --target) is v, on the appliance
// a: the providers are the vsphere ones (the image store keeps its layers
// as VMDKs in storage.image, with pulls staged under the appliance's root).
// The mapping:
//
//	vice                              vchd config
//	name                              name
//	target, thumbprint                vsphere.url https://TARGET/sdk, vsphere.thumbprint
//	datacenter, pool                  vsphere.datacenter, vsphere.pool
//	ops.user, ops.password (secret)   vsphere.user, vsphere.password (else a.User)
//	storage.image.datastore, .path    vsphere.imageDatastore, vsphere.imageFolder
//	storage.volume.N (label, ds/path) volumeStores[N] {label, "[ds] path"}
//	storage.baseimagesize             baseImageSize
//	network.bridge.name               vsphere.bridgePortGroup
//	network.bridgerange               bridgeNetworkRange
//	network.container.N               containerNetworks[N] (bridge = the port group)
//	container.nameconvention/cpus/memorymb  containerNameConvention, cpus, memoryMB
//	iso.bootstrap                     vsphere.bootISO
//	debug                             debug
//	registry.insecure/whitelist/mirrors  registry.insecure/whitelist/mirrors
//	(appliance) registryCAFile        registry.caFile (registry.ca written out)
//	(appliance) serial, serialAddr    vsphere.serial, vsphere.serialAddr
//	(appliance) simBacking            vsphere.simBacking (simulator only)
//	(appliance) endpoint              vsphere.endpointVM = name
func FromVice(v *vice.Config, a Appliance) (*Config, error) {
	if v == nil || v.Name == "" {
		return nil, fmt.Errorf("vsphere VCH config: no VCH name")
	}
	switch {
	case v.Target == "":
		return nil, fmt.Errorf("vsphere VCH %s: the config names no target", v.Name)
	case v.Network.Bridge.Name == "":
		return nil, fmt.Errorf("vsphere VCH %s: the config names no bridge port group", v.Name)
	case v.Storage.Image.Datastore == "":
		return nil, fmt.Errorf("vsphere VCH %s: the config names no image datastore", v.Name)
	case a.Root == "" || a.APIAddr == "":
		return nil, fmt.Errorf("vsphere VCH %s: the appliance's root and API address are required", v.Name)
	}
	user, password := v.Ops.User, v.Ops.Password
	if user == "" {
		user, password = a.User, ""
	}
	c := &Config{
		Name: v.Name, Root: a.Root, APIAddr: a.APIAddr,
		CACert: a.CACert, ServerCert: a.ServerCert, ServerKey: a.ServerKey, NoTLS: a.NoTLS, NoTLSVerify: a.NoTLSVerify,
		ClientCAFile: a.ClientCAFile, TLSCNames: a.TLSCNames,
		KernelDir: a.KernelDir, TetherPath: a.TetherPath, Accel: a.Accel,
		CPUs: v.Container.CPUs, MemoryMB: v.Container.MemoryMB, BaseImageSize: v.Storage.BaseImageSize,
		Debug: v.Debug, SyslogAddress: a.SyslogAddress,
		ContainerNameConvention: v.Container.NameConvention,
		BridgeNetworkRange:      v.Network.BridgeRange,
		Registry: Registry{Insecure: v.Registry.Insecure, Whitelist: v.Registry.Whitelist, Mirrors: v.Registry.Mirrors,
			CAFile: a.RegistryCAFile},
		Providers: Providers{Compute: "vsphere", Images: "vsphere", Volumes: "vsphere", Network: "vsphere"},
		VSphere: &VSphere{
			URL: "https://" + v.Target + "/sdk", User: user, Password: password,
			Thumbprint: v.Thumbprint, Insecure: a.Insecure,
			Datacenter: v.Datacenter, Pool: v.Pool,
			ImageDatastore:  v.Storage.Image.Datastore,
			ImageFolder:     v.Storage.Image.Path,
			BridgePortGroup: v.Network.Bridge.Name,
			BootISO:         v.ISO.Bootstrap,
			Serial:          a.Serial,
			SerialAddr:      a.SerialAddr,
			Backing:         a.SimBacking,
		},
	}
	if a.Endpoint {
		c.VSphere.EndpointVM = v.Name
	}
	for _, s := range v.Storage.Volumes {
		c.VolumeStores = append(c.VolumeStores, VolumeStore{Label: s.Label, Path: s.Location().DSPath()})
	}
	for _, n := range v.Network.Containers {
		c.ContainerNetworks = append(c.ContainerNetworks, ContainerNetwork{
			Bridge: n.PortGroup.Name, Alias: n.Alias, IPRange: n.IPRange, Gateway: n.Gateway, DNS: n.DNS, Firewall: n.Firewall,
		})
	}
	return c, nil
}
