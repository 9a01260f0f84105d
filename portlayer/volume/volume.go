package volume

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/vchproject/vch/errdefs"
)

// DefaultStore is the label of the store that holds anonymous volumes and
// volumes created without a store.
const DefaultStore = "default"

// DefaultCapacity is the capacity of a volume created without one (1 GB).
const DefaultCapacity = 1 << 30

// MinCapacity is the smallest capacity a store accepts.
const MinCapacity = 8 << 20

// Store is one named volume store.
type Store struct {
	Label string `json:"label"`
	Path  string `json:"path"` // where the provider keeps the store's volumes
}

// Volume is one volume.
type Volume struct {
	Name     string            `json:"name"`
	Store    string            `json:"store"`    // label of its store
	Capacity int64             `json:"capacity"` // bytes
	Labels   map[string]string `json:"labels,omitempty"`
	// Options are the driver options as the user gave them; the port
	// layer keeps them for inspect and does not read them.
	Options map[string]string `json:"options,omitempty"`
	Created time.Time         `json:"created"`
	// Location is where the volume lives in its store (a host path for
	// the local provider).
	Location string `json:"location"`
	// Shared volumes hold a file system that only the host writes
	// blocks to; VMs reach its files through Attachment.Dir, so any
	// number of running containers can mount one at once. Volumes made
	// before sharing existed are not shared: one VM at a time attaches
	// their disk.
	Shared bool `json:"shared,omitempty"`
}

// CreateOptions define a new volume.
type CreateOptions struct {
	Name     string
	Store    string // "" means DefaultStore
	Capacity int64  // bytes; 0 means DefaultCapacity
	Labels   map[string]string
	Options  map[string]string
}

// Creator allocates volumes.
type Creator interface {
	Create(ctx context.Context, opts CreateOptions) (Volume, error)
}

// Reader reads volumes and stores.
type Reader interface {
	Get(ctx context.Context, name string) (Volume, error)
	List(ctx context.Context) ([]Volume, error)
	Stores() []Store
}

// Attachment is what a VM attaches to mount a volume: exactly one of Disk
// and Dir is set.
type Attachment struct {
	// Disk is a raw ext4 image that one VM at a time attaches as a
	// block device (a volume that is not Shared).
	Disk string
	// Dir is a host directory with the volume's files, which any
	// number of VMs share at once (a Shared volume). Writes past the
	// volume's capacity fail with ENOSPC.
	Dir string
}

// Attacher gives what a VM attaches to mount a volume. For a shared
// volume it makes the directory available (the local provider mounts the
// volume's file system on the host once) until the volume is removed.
type Attacher interface {
	Attach(ctx context.Context, name string) (Attachment, error)
}

// Remover deletes volumes.
type Remover interface {
	Remove(ctx context.Context, name string) error
}

// Provider is a complete volume implementation.
type Provider interface {
	Creator
	Reader
	Attacher
	Remover
}

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidateName checks a volume name with docker's rule and text.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) || len(name) > 255 {
		return errdefs.InvalidParameter(fmt.Sprintf("%q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name))
	}
	return nil
}

var labelPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

// ValidateStoreLabel checks a volume store label.
func ValidateStoreLabel(label string) error {
	if !labelPattern.MatchString(label) || len(label) > 64 {
		return errdefs.InvalidParameter(fmt.Sprintf("volume store label %q: use letters, digits, '-' and '_'", label))
	}
	return nil
}

// Normalize applies the defaults to opts and validates them.
func Normalize(opts CreateOptions) (CreateOptions, error) {
	if err := ValidateName(opts.Name); err != nil {
		return opts, err
	}
	if opts.Store == "" {
		opts.Store = DefaultStore
	}
	if opts.Capacity == 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.Capacity < MinCapacity {
		return opts, errdefs.InvalidParameter(fmt.Sprintf("volume capacity %d bytes is below the minimum of %d MB", opts.Capacity, MinCapacity>>20))
	}
	return opts, nil
}

// UnknownStore is the error for a store label no store has.
func UnknownStore(label string) error {
	return errdefs.NotFound(fmt.Sprintf("no volume store named (%s)", label))
}

// NotFound is the error for an unknown volume, with docker's text.
func NotFound(name string) error {
	return errdefs.NotFound(fmt.Sprintf("get %s: no such volume", name))
}
