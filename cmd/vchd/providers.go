package main

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/machine/vchconfig"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	netlocal "github.com/vchproject/vch/portlayer/network/local"
	"github.com/vchproject/vch/portlayer/qemu"
	"github.com/vchproject/vch/portlayer/qemu/initramfs"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/portlayer/registry"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/local"
	"github.com/vchproject/vch/portlayer/volume"
	volumelocal "github.com/vchproject/vch/portlayer/volume/local"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsdisk"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsnetwork"
	"github.com/vchproject/vch/portlayer/vsphere/vsstorage"
	"github.com/vchproject/vch/portlayer/vsphere/vsvolume"
)

// providerNames is the registry's choice for cfg.
func providerNames(cfg *vchconfig.Config) registry.Names {
	p := cfg.Providers
	return registry.Names{Compute: p.Compute, Images: p.Images, Volumes: p.Volumes, Network: p.Network}
}

// newRegistry registers every provider this vchd links, over cfg.
func newRegistry(cfg *vchconfig.Config) *registry.Registry {
	r := registry.New()
	r.Images("local", func(ctx context.Context, env *registry.Env) (storage.Store, error) {
		policy, err := registryPolicy(cfg.Registry)
		if err != nil {
			return nil, err
		}
		return local.New(filepath.Join(cfg.Root, "images"), env.Log.Named("storage"), local.WithRegistryPolicy(policy))
	})
	// vsphere: layers as VMDKs on the image datastore; pulls, pushes and
	// blobs are staged in the local store under ROOT/images.
	r.Images("vsphere", func(ctx context.Context, env *registry.Env) (storage.Store, error) {
		vs := cfg.VSphere
		if vs == nil || vs.ImageDatastore == "" || vs.ImageFolder == "" {
			return nil, fmt.Errorf("the vsphere image store needs vsphere.imageDatastore and vsphere.imageFolder")
		}
		policy, err := registryPolicy(cfg.Registry)
		if err != nil {
			return nil, err
		}
		opts := []local.Option{local.WithRegistryPolicy(policy)}
		if vs.EndpointVM != "" {
			// Each layer goes into a disk of its own (below): the
			// staging store builds no flattened root filesystem.
			opts = append(opts, local.WithLayersOnly())
		}
		staging, err := local.New(filepath.Join(cfg.Root, "images"), env.Log.Named("storage"), opts...)
		if err != nil {
			return nil, err
		}
		s, err := vsphereSession(ctx, cfg, env)
		if err != nil {
			return nil, err
		}
		sc := vsstorage.Config{
			Session: s, Folder: "[" + vs.ImageDatastore + "] " + vs.ImageFolder,
			Staging: staging, Logger: env.Log.Named("vsstorage"),
		}
		if vs.EndpointVM != "" {
			// vchd runs in the endpoint VM: each layer is written
			// into a disk of its own attached to that VM.
			if sc.Writer, err = vsdisk.New(vsdisk.Config{Session: s, VM: vs.EndpointVM, Guest: vsdisk.LinuxGuest{},
				Logger: env.Log.Named("vsdisk")}); err != nil {
				return nil, err
			}
			sc.LayerCapacity = cfg.BaseImageSize
		}
		return vsstorage.New(ctx, sc)
	})
	r.Volumes("local", func(ctx context.Context, env *registry.Env) (volume.Provider, error) {
		return volumelocal.New(volumeStores(cfg), env.Log.Named("volumes"))
	})
	r.Volumes("vsphere", func(ctx context.Context, env *registry.Env) (volume.Provider, error) {
		s, err := vsphereSession(ctx, cfg, env)
		if err != nil {
			return nil, err
		}
		return vsvolume.New(ctx, s, volumeStores(cfg), env.Log.Named("volumes"))
	})
	r.Network("local", func(ctx context.Context, env *registry.Env) (network.Provider, error) {
		var bridgeRange netip.Prefix
		if cfg.BridgeNetworkRange != "" {
			var err error
			if bridgeRange, err = netip.ParsePrefix(cfg.BridgeNetworkRange); err != nil {
				return nil, fmt.Errorf("bridge network range: %w", err)
			}
		}
		var bridge6 netip.Prefix
		if cfg.BridgeNetworkIPv6Range != "" {
			var err error
			if bridge6, err = netip.ParsePrefix(cfg.BridgeNetworkIPv6Range); err != nil {
				return nil, fmt.Errorf("bridge network IPv6 range: %w", err)
			}
		}
		var containerNets []network.ContainerNetworkSpec
		for _, c := range cfg.ContainerNetworks {
			gw, from, to, dns, err := c.Parsed()
			if err != nil {
				return nil, err
			}
			gw6, from6, to6, err := c.Parsed6()
			if err != nil {
				return nil, err
			}
			containerNets = append(containerNets, network.ContainerNetworkSpec{
				Name: c.Alias, Bridge: c.Bridge, Gateway: gw, RangeFrom: from, RangeTo: to, DNS: dns, Firewall: c.Firewall,
				Gateway6: gw6, RangeFrom6: from6, RangeTo6: to6,
			})
		}
		nets, err := netlocal.New(netlocal.Config{
			Root:       filepath.Join(cfg.Root, "network"),
			Range:      bridgeRange,
			BridgeIPv6: bridge6,
			Logger:     env.Log.Named("network"),

			ContainerNetworks: containerNets,
		})
		if err != nil {
			return nil, err
		}
		// Close stops the port proxies; leases stay for the next vchd.
		env.OnClose(nets.Close)
		return nets, nil
	})
	r.Network("vsphere", func(ctx context.Context, env *registry.Env) (network.Provider, error) {
		s, err := vsphereSession(ctx, cfg, env)
		if err != nil {
			return nil, err
		}
		nc, err := vsphereNetworkConfig(cfg, s)
		if err != nil {
			return nil, err
		}
		nc.Logger = env.Log.Named("network")
		nets, err := vsnetwork.New(ctx, nc)
		if err != nil {
			return nil, err
		}
		// Close stops the port forwards; leases stay for the next vchd.
		env.OnClose(nets.Close)
		return nets, nil
	})
	// none: no container networking.
	r.Network("none", func(ctx context.Context, env *registry.Env) (network.Provider, error) {
		return nil, nil
	})
	r.Compute("qemu", func(ctx context.Context, env *registry.Env) (compute.Provider, error) {
		k, err := kernel.Find(cfg.KernelDir)
		if err != nil {
			return nil, fmt.Errorf("guest kernel: %w", err)
		}
		initrd, err := initramfs.Ensure(filepath.Join(cfg.Root, "boot"), cfg.TetherPath, cfg.KernelDir)
		if err != nil {
			return nil, fmt.Errorf("tether initramfs: %w", err)
		}
		if cfg.KSM {
			if err := enableKSM(env.Log); err != nil {
				return nil, err
			}
		}
		qc := qemu.Config{
			Root:     filepath.Join(cfg.Root, "containers"),
			Kernel:   k.Vmlinuz,
			Initrd:   initrd,
			Images:   env.Images,
			Logger:   env.Log.Named("qemu"),
			CPUs:     cfg.CPUs,
			MemoryMB: cfg.MemoryMB,
			DiskSize: cfg.BaseImageSize,
			Accel:    cfg.Accel,
			Debug:    cfg.Debug,
			TBSizeMB: cfg.TCGTBSizeMB,

			TBSizeClonesMB: cfg.TCGTBSizeClonesMB,

			GuestMemory: cfg.GuestMemory,
			Templates:   cfg.TemplatesOn(),
		}
		if env.Volumes != nil {
			qc.Volumes = env.Volumes
		}
		if na, ok := env.Network.(compute.NetworkAttacher); ok {
			qc.Network = na
		}
		p, err := qemu.New(qc)
		if err != nil {
			return nil, err
		}
		// Close detaches from the VMs; they keep running for the next vchd.
		env.OnClose(p.Close)
		return p, nil
	})
	r.Compute("vsphere", func(ctx context.Context, env *registry.Env) (compute.Provider, error) {
		s, err := vsphereSession(ctx, cfg, env)
		if err != nil {
			return nil, err
		}
		vc := vscompute.Config{
			Session: s, VCH: cfg.Name, Datastore: cfg.VSphere.ImageDatastore, BootISO: cfg.VSphere.BootISO,
			CPUs: cfg.CPUs, MemoryMB: cfg.MemoryMB, Logger: env.Log.Named("vsphere"),
			Serial: cfg.VSphere.Serial, SerialAddr: cfg.VSphere.SerialAddr, Backing: cfg.VSphere.Backing,
			LogDir: filepath.Join(cfg.Root, "vsphere-logs"), Debug: cfg.Debug,
		}
		if env.Volumes != nil {
			vc.Volumes = env.Volumes
		}
		if ld, ok := env.Images.(vscompute.LayerDisks); ok {
			vc.Layers = ld
		}
		if na, ok := env.Network.(compute.NetworkAttacher); ok {
			vc.Network = na
		}
		if pg := cfg.VSphere.BridgePortGroup; pg != "" {
			vc.PortGroups = map[string]string{network.BridgeName: pg}
		}
		p, err := vscompute.Open(ctx, vc)
		if err != nil {
			return nil, err
		}
		// Close stops the serial concentrator; the VMs keep running.
		env.OnClose(p.Close)
		return p, nil
	})
	return r
}

// volumeStores: the configured stores, or ROOT/volumes as "default" for a
// VCH made before volume stores existed.
func volumeStores(cfg *vchconfig.Config) []volume.Store {
	if len(cfg.VolumeStores) == 0 {
		return []volume.Store{{Path: filepath.Join(cfg.Root, "volumes"), Label: volume.DefaultStore}}
	}
	var stores []volume.Store
	for _, s := range cfg.VolumeStores {
		stores = append(stores, volume.Store{Label: s.Label, Path: s.Path})
	}
	return stores
}

// vsphereSession is the one vSphere session the VCH's vsphere providers
// share, logged out when they close.
func vsphereSession(ctx context.Context, cfg *vchconfig.Config, env *registry.Env) (*vsession.Session, error) {
	v, err := env.Shared("vsphere", func() (any, func() error, error) {
		vs := cfg.VSphere
		if vs == nil {
			return nil, nil, fmt.Errorf("the VCH's config has no vsphere section")
		}
		u, err := url.Parse(vs.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("vsphere URL: %w", err)
		}
		password := vs.Password
		if password == "" {
			password = os.Getenv("VCH_VSPHERE_PASSWORD")
		}
		u.User = url.UserPassword(vs.User, password)
		s, err := vsession.Open(ctx, vsession.Config{
			URL: u.String(), Thumbprint: vs.Thumbprint, Insecure: vs.Insecure,
			Datacenter: vs.Datacenter, Pool: vs.Pool, Folder: vs.Folder,
			TaskTimeout: time.Duration(vs.TaskTimeoutSeconds) * time.Second,
		}, env.Log.Named("vsphere"))
		if err != nil {
			return nil, nil, err
		}
		return s, func() error { return s.Close(context.Background()) }, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*vsession.Session), nil
}

// vsphereNetworkConfig places the VCH's networks: the bridge on
// vsphere.bridgePortGroup, container networks on the port groups their
// bridge field names, the book in the VCH's folder on the image datastore.
func vsphereNetworkConfig(cfg *vchconfig.Config, s *vsession.Session) (vsnetwork.Config, error) {
	vs := cfg.VSphere
	nc := vsnetwork.Config{
		Session: s, VCH: cfg.Name, BridgePortGroup: vs.BridgePortGroup,
		State: "[" + vs.ImageDatastore + "] " + cfg.Name,
	}
	if vs.EndpointVM != "" {
		nc.Endpoint, nc.Legs = vs.EndpointVM, endpointLegs{}
	}
	if vs.BridgePortGroup == "" {
		return nc, fmt.Errorf("the vsphere network provider needs vsphere.bridgePortGroup")
	}
	if cfg.BridgeNetworkRange != "" {
		var err error
		if nc.BridgeRange, err = netip.ParsePrefix(cfg.BridgeNetworkRange); err != nil {
			return nc, fmt.Errorf("bridge network range: %w", err)
		}
	}
	for _, c := range cfg.ContainerNetworks {
		gw, from, to, dns, err := c.Parsed()
		if err != nil {
			return nc, err
		}
		nc.ContainerNetworks = append(nc.ContainerNetworks, vsnetwork.ContainerNetwork{PortGroup: c.Bridge, Spec: network.ContainerNetworkSpec{
			Name: c.Alias, Gateway: gw, RangeFrom: from, RangeTo: to, DNS: dns, Firewall: c.Firewall,
		}})
	}
	return nc, nil
}

// endpointLegs configures the endpoint VM's own NICs on user-defined
// networks (vsnetwork.Legs): vchd runs in that VM.
type endpointLegs struct{}

// legWait is how long a hot-added NIC may take to appear in the guest.
const legWait = time.Minute

func (endpointLegs) Up(_ context.Context, mac string, addr netip.Prefix) error {
	return guestos.AddrUp(mac, addr, legWait)
}

func (endpointLegs) Down(_ context.Context, mac string) error { return guestos.AddrsDown(mac) }
