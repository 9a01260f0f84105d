package qemu

import (
	"context"
	"fmt"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/volume"
)

// Accelerators for Config.Accel.
const (
	AccelAuto = "auto" // KVM if /dev/kvm exists and a probe boot succeeds, else TCG
	AccelKVM  = "kvm"
	AccelTCG  = "tcg"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultCPUs     = 1
	DefaultMemoryMB = 512
	DefaultDiskSize = 8 << 30
	DefaultQEMU     = "qemu-system-x86_64"
	DefaultTBSizeMB = 16
	// DefaultTBSizeClonesMB is the translation cache of template clones:
	// a clone restarts on an empty cache, and at 16 MB it retranslates
	// (docs/architecture.md: 32 ran busybox 21–35% faster than 16 for
	// 17 MiB more per idle clone; cold boots gain nothing from 32).
	DefaultTBSizeClonesMB = 32
	DefaultStartTimeout   = 2 * time.Minute
)

// Config configures a Provider.
type Config struct {
	Root     string          // state directory, one subdirectory per container
	Kernel   string          // guest kernel (vmlinuz)
	Initrd   string          // the tether's initramfs
	Images   storage.RootFS  // image root filesystem disks
	Volumes  volume.Attacher // volume disks; nil: containers cannot mount volumes
	Logger   *zap.Logger
	CPUs     int   // default vCPUs per VM
	MemoryMB int64 // default memory per VM
	DiskSize int64 // default writable layer size in bytes (sparse)
	QEMU     string
	// VirtioFSD serves shared volumes and bind mounts to VMs;
	// empty means DefaultVirtioFSD.
	VirtioFSD string
	Accel     string // AccelAuto, AccelKVM or AccelTCG
	// TBSizeMB caps TCG's translation cache per VM (QEMU's default is
	// much larger and dominates a small VM's memory); 0 means
	// DefaultTBSizeMB, < 0 QEMU's own default.
	TBSizeMB int
	// TBSizeClonesMB is TBSizeMB for template clones, which run the
	// booted guest's steady state rather than its boot; 0 means
	// DefaultTBSizeClonesMB, < 0 QEMU's own default.
	TBSizeClonesMB int
	// GuestMemory backs guest RAM: GuestMemoryAnon or GuestMemoryMemfd;
	// empty means DefaultGuestMemory.
	GuestMemory string
	// Templates starts eligible containers (template.go) as
	// copy-on-write clones of a saved template VM (template.go), falling
	// back to a cold boot. Off unless set (vic-machine sets it by
	// default).
	Templates bool
	// TemplateDir holds the templates; empty: Root/templates.
	TemplateDir string
	// TSCkHz is passed as tsc_early_khz; 0 detects it from the host.
	TSCkHz int
	// StartTimeout bounds a boot from launch to the process running.
	StartTimeout time.Duration
	// Modules overrides the tether's kernel module load order.
	Modules []string
	// Debug makes the tether log to the console (console.log).
	Debug bool
	// KernelArgs are appended to the guest kernel's command line.
	KernelArgs []string
	// Network gives starting VMs their NICs and hears of their exits; nil:
	// VMs get no NICs (lo only).
	Network compute.NetworkAttacher
}

func (c *Config) setDefaults() error {
	if c.Root == "" || c.Kernel == "" || c.Initrd == "" || c.Images == nil {
		return fmt.Errorf("qemu provider: Root, Kernel, Initrd and Images are required: %w", errdefs.ErrInvalidParameter)
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.CPUs <= 0 {
		c.CPUs = DefaultCPUs
	}
	if c.MemoryMB <= 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.DiskSize <= 0 {
		c.DiskSize = DefaultDiskSize
	}
	if c.QEMU == "" {
		c.QEMU = DefaultQEMU
	}
	if c.VirtioFSD == "" {
		c.VirtioFSD = DefaultVirtioFSD
	}
	switch c.Accel {
	case "":
		c.Accel = AccelAuto
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		return fmt.Errorf("qemu provider: accelerator %q: %w", c.Accel, errdefs.ErrInvalidParameter)
	}
	if c.TBSizeMB == 0 {
		c.TBSizeMB = DefaultTBSizeMB
	}
	if c.TBSizeClonesMB == 0 {
		c.TBSizeClonesMB = DefaultTBSizeClonesMB
	}
	if c.GuestMemory == "" {
		c.GuestMemory = DefaultGuestMemory
	}
	if err := validGuestMemory(c.GuestMemory); err != nil {
		return err
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	return nil
}

// Clock gives the host time.
type Clock interface{ Now() time.Time }

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Dialer connects to a VM's control socket.
type Dialer func(ctx context.Context, path string) (net.Conn, error)

// Option substitutes a collaborator of the Provider.
type Option func(*Provider)

// WithRunner replaces the process runner that launches QEMU.
func WithRunner(r ProcessRunner) Option { return func(p *Provider) { p.runner = r } }

// WithClock replaces the host clock.
func WithClock(c Clock) Option { return func(p *Provider) { p.clock = c } }

// WithDialer replaces how control sockets are dialed.
func WithDialer(d Dialer) Option { return func(p *Provider) { p.dial = d } }

// WithHandlers edits the start step list (swap, insert, remove by name).
func WithHandlers(edit func(HandlerList) HandlerList) Option {
	return func(p *Provider) { p.handlers = edit(p.handlers) }
}

// WithKVMProbe replaces the probe boot that decides whether "auto" uses KVM.
func WithKVMProbe(probe func(ctx context.Context) error) Option {
	return func(p *Provider) { p.probeKVM = probe }
}
