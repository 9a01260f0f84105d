package backends

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/container"
	"github.com/vchproject/vch/backends/events"
	"github.com/vchproject/vch/backends/image"
	netbackend "github.com/vchproject/vch/backends/network"
	"github.com/vchproject/vch/backends/reference"
	"github.com/vchproject/vch/backends/syslog"
	"github.com/vchproject/vch/backends/system"
	volumebackend "github.com/vchproject/vch/backends/volume"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	execrouter "github.com/vchproject/vch/daemon/router/exec"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	networkrouter "github.com/vchproject/vch/daemon/router/network"
	systemrouter "github.com/vchproject/vch/daemon/router/system"
	volumerouter "github.com/vchproject/vch/daemon/router/volume"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/volume"
)

// API versions vch speaks by default.
const (
	DefaultAPIVersion    = "1.45"
	DefaultMinAPIVersion = "1.24"
)

// Config wires the docker personality.
type Config struct {
	Name    string // the VCH name, shown by docker info
	Root    string // state directory for backends' own files (tag store, engine ID)
	Compute compute.Provider
	Network network.Provider // nil: no container networking
	Images  storage.Store
	Volumes volume.Provider // nil: no volume stores, /volumes answers 501
	Logger  *zap.Logger
	// Runtime names the compute provider in docker info ("qemu", "vsphere").
	Runtime string

	Version   string // vch version
	GitCommit string
	BuildTime string
	// APIVersion and MinAPIVersion default to DefaultAPIVersion and
	// DefaultMinAPIVersion.
	APIVersion    string
	MinAPIVersion string
	Labels        []string

	DefaultMemoryMB int64 // for containers created without --memory
	DefaultCPUs     int   // for containers created without --cpus
	// SyslogAddress, udp://host:port or tcp://host:port, also receives
	// every container's output; "": none.
	SyslogAddress string
	// Limits are the VCH-wide limits docker info shows.
	Limits system.Limits
	// ContainerNameConvention names container VMs ({name}, {id}).
	ContainerNameConvention string
	// BindAllow: host directories containers may bind mount from.
	BindAllow []string

	Registry system.RegistryInfo // registry settings, for docker info
}

// Backends holds the three backends the daemon consumes.
type Backends struct {
	containers *container.Backend
	images     *image.Backend
	system     *system.Backend
	volumes    *volumebackend.Backend
	networks   *netbackend.Backend
	stopSyslog context.CancelFunc
}

// New builds the backends and rebuilds their indexes from the port layer.
func New(cfg Config) (*Backends, error) {
	if cfg.Compute == nil || cfg.Images == nil {
		return nil, errors.New("backends: Compute and Images are required")
	}
	if cfg.Root == "" {
		return nil, errors.New("backends: Root is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if cfg.MinAPIVersion == "" {
		cfg.MinAPIVersion = DefaultMinAPIVersion
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("backends: state dir: %w", err)
	}
	refs, err := reference.Open(filepath.Join(cfg.Root, "repositories.json"))
	if err != nil {
		return nil, err
	}
	engineID, err := loadEngineID(filepath.Join(cfg.Root, "engine-id"))
	if err != nil {
		return nil, err
	}
	// One event log for the VCH: every backend publishes to it, GET
	// /events reads it. Networks: the network backend logs create and
	// destroy, the container backend connect and disconnect (at start,
	// at the end of a run, and on a running container's connect and
	// disconnect, as dockerd).
	ev := events.New(0)
	images := image.New(cfg.Images, refs, cfg.Compute, cfg.Logger.Named("images"))
	images.SetEvents(ev)
	var (
		vols       *volumebackend.Backend
		containerV container.Volumes
		stores     func() []volume.Store
	)
	if cfg.Volumes != nil {
		vols = volumebackend.New(cfg.Volumes, cfg.Compute, cfg.Logger.Named("volumes"))
		vols.SetEvents(ev)
		containerV, stores = vols, cfg.Volumes.Stores
	}
	containers, err := container.New(context.Background(), container.Config{
		Volumes:         containerV,
		Compute:         cfg.Compute,
		Network:         cfg.Network,
		Images:          images,
		Commit:          images,
		Logger:          cfg.Logger.Named("containers"),
		DefaultMemoryMB: cfg.DefaultMemoryMB,
		DefaultCPUs:     cfg.DefaultCPUs,
		Events:          ev,
		NameConvention:  cfg.ContainerNameConvention,
		BindAllow:       cfg.BindAllow,
	})
	if err != nil {
		return nil, err
	}
	sys := system.New(system.Config{
		ID: engineID, Name: cfg.Name, Root: cfg.Root, Runtime: cfg.Runtime,
		Version: cfg.Version, GitCommit: cfg.GitCommit, BuildTime: cfg.BuildTime,
		APIVersion: cfg.APIVersion, MinAPIVersion: cfg.MinAPIVersion, Labels: cfg.Labels, Limits: cfg.Limits,
		Containers: cfg.Compute, Images: cfg.Images, VolumeStores: stores, Registries: cfg.Images, Registry: cfg.Registry,
		Events: ev,
	})
	sys.SetDiskUsage(diskUsageSources(images, containers, vols))
	bs := &Backends{containers: containers, images: images, system: sys, volumes: vols}
	if cfg.Network != nil {
		bs.networks = netbackend.New(cfg.Network, cfg.Compute, containers.NameOf, containers)
		bs.networks.SetEvents(ev)
	}
	if cfg.SyslogAddress != "" {
		fw, err := syslog.New(syslog.Config{Address: cfg.SyslogAddress, Hostname: cfg.Name, Source: cfg.Compute,
			Events: ev, NameOf: containers.NameOf, Logger: cfg.Logger.Named("syslog")})
		if err != nil {
			containers.Close()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		bs.stopSyslog = cancel
		go fw.Run(ctx)
	}
	return bs, nil
}

// Containers serves /containers.
func (b *Backends) Containers() containerrouter.Backend { return b.containers }

// Execs serves docker exec.
func (b *Backends) Execs() execrouter.Backend { return b.containers }

// Images serves /images.
func (b *Backends) Images() imagerouter.Backend { return b.images }

// System serves /info and /version.
func (b *Backends) System() systemrouter.Backend { return b.system }

// Volumes serves /volumes; nil when the VCH has no volume stores.
func (b *Backends) Volumes() volumerouter.Backend {
	if b.volumes == nil {
		return nil
	}
	return b.volumes
}

// Networks serves /networks; nil without networking.
func (b *Backends) Networks() networkrouter.Backend {
	if b.networks == nil {
		return nil
	}
	return b.networks
}

// Close stops background work (AutoRemove watchers).
func (b *Backends) Close() {
	if b.stopSyslog != nil {
		b.stopSyslog()
	}
	b.containers.Close()
}

// loadEngineID returns the VCH's stable ID, creating it on first use.
// The file is written whole (an endpoint VM powered off hard right after
// its first boot leaves it absent, never empty); an empty one is
// replaced.
func loadEngineID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if id := strings.TrimSpace(string(b)); err == nil && id != "" {
		return id, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("backends: engine id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	h := hex.EncodeToString(raw[:])
	id := strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
	if err := atomicfile.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("backends: engine id: %w", err)
	}
	return id, nil
}
