package vchconfig

import (
	"testing"

	"github.com/vchproject/vch/internal/vice"
)

func TestFromVice(t *testing.T) {
	v := &vice.Config{
		Name: "vch1", Target: "vc.example:443", Thumbprint: "AA:BB", Datacenter: "/DC", Pool: "/DC/host/C/Resources/vch1",
		Ops: vice.Ops{User: "ops@vsphere.local", Password: "pw"},
		Storage: vice.Storage{Image: vice.Datastore{Datastore: "ds1", Path: "VIC/u/images"}, BaseImageSize: 4 << 30,
			Volumes: []vice.VolumeStore{{Label: "default", Datastore: "ds2", Path: "vols"}}},
		Network: vice.Network{Bridge: vice.PortGroup{Name: "bridge-pg"}, BridgeRange: "10.200.0.0/16",
			Containers: []vice.ContainerNetwork{{PortGroup: vice.PortGroup{Name: "VM Network"}, Alias: "public", Gateway: "10.9.0.1/24", IPRange: "10.9.0.100-10.9.0.200", Firewall: "open"}}},
		Container: vice.Container{NameConvention: "x-{name}", CPUs: 2, MemoryMB: 1024},
		ISO:       vice.ISO{Bootstrap: "[ds1] vch1/bootstrap.iso"},
		Registry:  vice.Registry{Insecure: []string{"10.0.2.101:5000"}, Whitelist: []string{"*.example.com", "10.0.2.101:5000"}, Mirrors: []string{"https://mirror.example.com"}, CA: "ignored: the appliance wrote it"},
		Debug:     true,
	}
	c, err := FromVice(v, Appliance{Root: "/var/lib/vch", APIAddr: "0.0.0.0:2376", User: "ignored", RegistryCAFile: "/etc/vch/tls/registry-ca.pem"})
	if err != nil {
		t.Fatal(err)
	}
	vs := c.VSphere
	if c.Name != "vch1" || c.Root != "/var/lib/vch" || c.CPUs != 2 || c.MemoryMB != 1024 || c.BaseImageSize != 4<<30 || !c.Debug ||
		c.ContainerNameConvention != "x-{name}" || c.BridgeNetworkRange != "10.200.0.0/16" ||
		c.Providers != (Providers{Compute: "vsphere", Images: "vsphere", Volumes: "vsphere", Network: "vsphere"}) {
		t.Fatalf("config %+v", c)
	}
	if vs.URL != "https://vc.example:443/sdk" || vs.User != "ops@vsphere.local" || vs.Password != "pw" || vs.Thumbprint != "AA:BB" ||
		vs.Datacenter != "/DC" || vs.Pool != "/DC/host/C/Resources/vch1" || vs.ImageDatastore != "ds1" || vs.ImageFolder != "VIC/u/images" || vs.BridgePortGroup != "bridge-pg" ||
		vs.BootISO != "[ds1] vch1/bootstrap.iso" || vs.Insecure {
		t.Fatalf("vsphere %+v", vs)
	}
	if r := c.Registry; len(r.Insecure) != 1 || r.Insecure[0] != "10.0.2.101:5000" || len(r.Whitelist) != 2 || len(r.Mirrors) != 1 ||
		r.Mirrors[0] != "https://mirror.example.com" || r.CAFile != "/etc/vch/tls/registry-ca.pem" {
		t.Fatalf("registry %+v", r)
	}
	if len(c.VolumeStores) != 1 || c.VolumeStores[0] != (VolumeStore{Label: "default", Path: "[ds2] vols"}) {
		t.Fatalf("volume stores %+v", c.VolumeStores)
	}
	if len(c.ContainerNetworks) != 1 || c.ContainerNetworks[0].Bridge != "VM Network" || c.ContainerNetworks[0].Alias != "public" || c.ContainerNetworks[0].Firewall != "open" {
		t.Fatalf("container networks %+v", c.ContainerNetworks)
	}
	// Without an ops user the appliance's login user is used, its
	// password from the environment.
	v.Ops = vice.Ops{}
	if c, err = FromVice(v, Appliance{Root: "/r", APIAddr: ":2376", User: "admin"}); err != nil || c.VSphere.User != "admin" || c.VSphere.Password != "" {
		t.Fatalf("login user: %+v %v", c.VSphere, err)
	}
	v.Network.Bridge.Name = ""
	if _, err := FromVice(v, Appliance{Root: "/r", APIAddr: ":2376"}); err == nil {
		t.Fatal("a config without a bridge port group was mapped")
	}
}
