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
	"github.com/vchproject/vch/backends/image"
	"github.com/vchproject/vch/backends/reference"
	"github.com/vchproject/vch/backends/system"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	systemrouter "github.com/vchproject/vch/daemon/router/system"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
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
	Images  storage.Store
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

	Registry system.RegistryInfo // registry settings, for docker info
}

// Backends holds the three backends the daemon consumes.
type Backends struct {
	containers *container.Backend
	images     *image.Backend
	system     *system.Backend
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
	images := image.New(cfg.Images, refs, cfg.Compute, cfg.Logger.Named("images"))
	containers, err := container.New(context.Background(), container.Config{
		Compute:         cfg.Compute,
		Images:          images,
		Logger:          cfg.Logger.Named("containers"),
		DefaultMemoryMB: cfg.DefaultMemoryMB,
		DefaultCPUs:     cfg.DefaultCPUs,
	})
	if err != nil {
		return nil, err
	}
	sys := system.New(system.Config{
		ID: engineID, Name: cfg.Name, Root: cfg.Root, Runtime: cfg.Runtime,
		Version: cfg.Version, GitCommit: cfg.GitCommit, BuildTime: cfg.BuildTime,
		APIVersion: cfg.APIVersion, MinAPIVersion: cfg.MinAPIVersion, Labels: cfg.Labels,
		Containers: cfg.Compute, Images: cfg.Images, Registries: cfg.Images, Registry: cfg.Registry,
	})
	return &Backends{containers: containers, images: images, system: sys}, nil
}

// Containers serves /containers.
func (b *Backends) Containers() containerrouter.Backend { return b.containers }

// Images serves /images.
func (b *Backends) Images() imagerouter.Backend { return b.images }

// System serves /info and /version.
func (b *Backends) System() systemrouter.Backend { return b.system }

// Close stops background work (AutoRemove watchers).
func (b *Backends) Close() { b.containers.Close() }

// loadEngineID returns the VCH's stable ID, creating it on first use.
func loadEngineID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("backends: engine id: %w", err)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	h := hex.EncodeToString(raw[:])
	id := strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("backends: engine id: %w", err)
	}
	return id, nil
}
