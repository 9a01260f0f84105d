package system

import (
	"context"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"

	"github.com/vchproject/vch/backends/events"
	systemrouter "github.com/vchproject/vch/daemon/router/system"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/volume"
)

// Config describes the VCH for info and version.
type Config struct {
	ID            string // stable VCH identifier
	Name          string // the VCH name
	Root          string // state directory (DockerRootDir)
	Runtime       string // compute provider name, e.g. "qemu"
	Version       string
	GitCommit     string
	BuildTime     string
	APIVersion    string
	MinAPIVersion string
	Labels        []string
	Containers    compute.Inspector
	Images        storage.Reader
	// VolumeStores lists the volume stores (nil: none).
	VolumeStores func() []volume.Store
	Registries   storage.Authenticator // docker login; nil answers 501
	Registry     RegistryInfo
	Events       *events.Service // the VCH's event log (GET /events)
	DiskUsage    DiskUsageSources
	// Limits are the VCH-wide resource limits.
	Limits Limits
}

// Limits are the VCH-wide limits as docker info reports them: CPUs and
// total memory are the VCH's (as VIC reported its resource pool), and
// Status rows are listed with the driver status.
type Limits struct {
	NCPU     int   // CPUs the VCH may use; 0: the host's
	MemTotal int64 // bytes; 0: the host's
	Status   [][2]string
}

// RegistryInfo is the VCH's registry settings, shown by docker info.
type RegistryInfo struct {
	Insecure  []string // host[:port] or CIDR
	Whitelist []string // empty: any registry
	Mirrors   []string
}

// Backend implements the daemon's system.Backend.
type Backend struct {
	cfg  Config
	host hostInfo
}

var _ systemrouter.Backend = (*Backend)(nil)

// New returns the system backend.
func New(cfg Config) *Backend {
	if cfg.Runtime == "" {
		cfg.Runtime = "qemu"
	}
	if cfg.Events == nil {
		cfg.Events = events.New(0)
	}
	if cfg.Labels == nil {
		cfg.Labels = []string{}
	}
	return &Backend{cfg: cfg, host: readHost()}
}

// SystemInfo answers docker info.
func (b *Backend) SystemInfo(ctx context.Context) (*system.Info, error) {
	cs, err := b.cfg.Containers.List(ctx)
	if err != nil {
		return nil, err
	}
	imgs, err := b.cfg.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	info := &system.Info{
		ID:                 b.cfg.ID,
		Containers:         len(cs),
		Images:             len(imgs),
		Driver:             "vch",
		DriverStatus:       append([][2]string{{"Container VMs", b.cfg.Runtime}}, whitelistStatus(b.cfg.Registry)...),
		Plugins:            system.PluginsInfo{Volume: []string{}, Network: []string{}, Authorization: []string{}, Log: []string{}},
		MemoryLimit:        true,
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      "vch",
		KernelVersion:      b.host.kernel,
		OperatingSystem:    "vch (container VMs on " + b.cfg.Runtime + ")",
		OSVersion:          b.cfg.Version,
		OSType:             "linux",
		Architecture:       dockerArch(),
		IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig:     registryConfig(b.cfg.Registry),
		NCPU:               b.host.ncpu,
		MemTotal:           b.host.memTotal,
		GenericResources:   []swarm.GenericResource{},
		DockerRootDir:      b.cfg.Root,
		Name:               b.cfg.Name,
		Labels:             b.cfg.Labels,
		ServerVersion:      b.cfg.Version,
		Runtimes:           map[string]system.RuntimeWithStatus{b.cfg.Runtime: {Runtime: system.Runtime{Path: b.cfg.Runtime}}},
		DefaultRuntime:     b.cfg.Runtime,
		Swarm:              swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		SecurityOptions:    []string{},
		CDISpecDirs:        []string{},
		Warnings:           []string{},
	}
	if l := b.cfg.Limits; l.NCPU > 0 && l.NCPU < info.NCPU {
		info.NCPU = l.NCPU
	}
	if l := b.cfg.Limits; l.MemTotal > 0 && l.MemTotal < info.MemTotal {
		info.MemTotal = l.MemTotal
	}
	info.DriverStatus = append(info.DriverStatus, b.cfg.Limits.Status...)
	if b.cfg.VolumeStores != nil {
		var labels []string
		for _, st := range b.cfg.VolumeStores() {
			labels = append(labels, st.Label)
			info.DriverStatus = append(info.DriverStatus, [2]string{"VolumeStore " + st.Label, st.Path})
		}
		info.DriverStatus = append(info.DriverStatus, [2]string{"VolumeStores", strings.Join(labels, " ")})
		info.Plugins.Volume = []string{"local"}
	}
	for _, c := range cs {
		if c.Status.State == compute.StateRunning {
			info.ContainersRunning++
		} else {
			info.ContainersStopped++
		}
	}
	return info, nil
}

// registryConfig is docker info's view of r: loopback and the insecure
// registries as insecure, the mirrors on docker.io.
func registryConfig(r RegistryInfo) *registry.ServiceConfig {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	mirrors := append([]string{}, r.Mirrors...)
	c := &registry.ServiceConfig{
		InsecureRegistryCIDRs: []*registry.NetIPNet{(*registry.NetIPNet)(loopback)},
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: mirrors, Secure: true, Official: true},
		},
		Mirrors: mirrors,
	}
	for _, p := range r.Insecure {
		if _, cidr, err := net.ParseCIDR(p); err == nil {
			c.InsecureRegistryCIDRs = append(c.InsecureRegistryCIDRs, (*registry.NetIPNet)(cidr))
			continue
		}
		c.IndexConfigs[p] = &registry.IndexInfo{Name: p, Mirrors: []string{}, Secure: false}
	}
	return c
}

// whitelistStatus is the whitelist as docker info's driver status lines,
// as VIC showed it.
func whitelistStatus(r RegistryInfo) [][2]string {
	if len(r.Whitelist) == 0 {
		return nil
	}
	return [][2]string{{"Registry Whitelist Mode", "enabled"}, {"Whitelisted Registries", strings.Join(r.Whitelist, ", ")}}
}

// SystemVersion answers docker version.
func (b *Backend) SystemVersion(context.Context) (types.Version, error) {
	v := types.Version{
		Platform:      struct{ Name string }{Name: "vch " + b.cfg.Version},
		Version:       b.cfg.Version,
		APIVersion:    b.cfg.APIVersion,
		MinAPIVersion: b.cfg.MinAPIVersion,
		GitCommit:     b.cfg.GitCommit,
		GoVersion:     runtime.Version(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		KernelVersion: b.host.kernel,
		BuildTime:     b.cfg.BuildTime,
	}
	v.Components = []types.ComponentVersion{{
		Name:    "Engine",
		Version: b.cfg.Version,
		Details: map[string]string{
			"ApiVersion":    v.APIVersion,
			"MinAPIVersion": v.MinAPIVersion,
			"GitCommit":     v.GitCommit,
			"GoVersion":     v.GoVersion,
			"Os":            v.Os,
			"Arch":          v.Arch,
			"KernelVersion": v.KernelVersion,
			"BuildTime":     v.BuildTime,
			"Experimental":  "false",
		},
	}}
	return v, nil
}
