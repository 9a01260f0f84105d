package compute

import (
	"context"
	"io"
	"io/fs"
	"time"
)

// Archiver copies files into and out of a container VM's file systems
// (docker cp) and reports its writable layer's changes and size (docker
// diff, ps -s). It works on running containers and on stopped ones alike:
// a provider that must boot the VM to reach a stopped container's disks
// does so without starting its process and without changing its Status.
//
// Paths are absolute in the container and resolved as a process chrooted
// into the container's root would (symlinks followed inside it, except
// the last component of a Stat or Get path). Nothing an archive holds may
// be written outside the container's file systems.
//
// Errors: ErrNotFound for an unknown id or a missing path (callers tell
// them apart by resolving the container first), ErrInvalidParameter for an
// extraction point that is not a directory and for a truncated or hostile
// archive (then nothing it created is left), ErrForbidden for a read-only
// destination, ErrConflict for a paused or busy VM.
type Archiver interface {
	ArchiveStat(ctx context.Context, id, path string) (PathStat, error)
	// ArchiveGet calls open with the stat of path and writes the tar of
	// path to the writer open returns. An error before open was called
	// means nothing was written.
	ArchiveGet(ctx context.Context, id, path string, open func(PathStat) (io.Writer, error)) error
	// ArchivePut extracts the tar read from r into the directory path.
	ArchivePut(ctx context.Context, id, path string, r io.Reader, opts PutOptions) error
	// Changes lists the writable layer's changes, sorted by path, leaving
	// out the files the provider writes itself (/etc/hosts, /etc/hostname,
	// /etc/resolv.conf).
	Changes(ctx context.Context, id string) ([]Change, error)
	// Sizes reports the writable layer's size; for a container that is
	// not running it is what the provider last measured (zero if never).
	Sizes(ctx context.Context, id string) (Sizes, error)
}

// PathStat describes one path in a container (docker's container.PathStat).
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       fs.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// PutOptions are docker cp's extraction options.
type PutOptions struct {
	CopyUIDGID           bool // keep the archive's owners (-a); else root owns what is extracted
	NoOverwriteDirNonDir bool // refuse to replace a directory by a non-directory or the reverse
}

// ChangeKind is docker diff's kind of change.
type ChangeKind int

const (
	ChangeModify ChangeKind = 0
	ChangeAdd    ChangeKind = 1
	ChangeDelete ChangeKind = 2
)

// Change is one changed path of the writable layer.
type Change struct {
	Path string
	Kind ChangeKind
}

// Sizes of a container's file systems in bytes.
type Sizes struct {
	RW int64 `json:"rw"` // files in the writable layer
}
