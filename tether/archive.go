package tether

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/archive"
	"github.com/vchproject/vch/tether/proto"
)

// hiddenChanges are the files the tether writes itself: docker diff does
// not show them (docker bind-mounts them).
var hiddenChanges = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// archiver serves docker cp, diff and sizes in the container root
// (control.Archiver), for running containers and maintenance VMs alike.
// With baseline set (the vSphere transport, whose root is no overlay of
// the tether's) diff and sizes compare the root with the baseline file
// the first boot recorded (archive.RecordBaseline).
type archiver struct {
	t        *tether
	baseline string
}

// baselineFile is where the vSphere transport keeps the root's baseline.
const baselineFile = "/.vch-baseline"

// errStopping refuses archive sessions once the VM powers off.
var errStopping = errors.New(proto.ArchiveStopping)

func (a archiver) Begin() (func(), error) {
	if a.t.stopping.Load() || !a.t.sessions.TryRLock() {
		return nil, errStopping
	}
	return a.t.sessions.RUnlock, nil
}

func (a archiver) root() (*archive.Root, error) { return archive.OpenRoot(a.t.root) }

func (a archiver) Stat(p string) (proto.PathStat, error) {
	r, err := a.root()
	if err != nil {
		return proto.PathStat{}, err
	}
	defer r.Close()
	return r.Stat(p)
}

func (a archiver) Get(p string, w io.Writer, started func(proto.PathStat) error) error {
	r, err := a.root()
	if err != nil {
		return err
	}
	defer r.Close()
	return r.Get(p, w, started)
}

func (a archiver) PutTarget(p string) (proto.PathStat, error) {
	r, err := a.root()
	if err != nil {
		return proto.PathStat{}, err
	}
	defer r.Close()
	_, st, err := r.PutTarget(p)
	return st, err
}

func (a archiver) Put(p string, in io.Reader, copyUIDGID, noOverwriteDirNonDir bool) error {
	r, err := a.root()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Put(p, in, archive.PutOptions{CopyUIDGID: copyUIDGID, NoOverwriteDirNonDir: noOverwriteDirNonDir}); err != nil {
		return err
	}
	// What docker cp wrote is on disk before the call returns, whatever
	// ends the VM later.
	unix.Sync()
	return nil
}

func (a archiver) Changes(w io.Writer) error {
	var cs []proto.Change
	var err error
	if a.baseline != "" {
		cs, err = archive.ChangesSince(a.t.root, a.baseline, exportSkipped, hiddenChanges)
	} else {
		cs, err = archive.Changes(filepath.Join(rwMount, "upper"), imageMount, hiddenChanges)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, c := range cs {
		if err := enc.Encode(c); err != nil {
			return err
		}
	}
	return nil
}

// Layer writes the writable layer: the overlay's upper directory, or,
// with a baseline, the root's changes since it (archive.LayerSince).
func (a archiver) Layer(w io.Writer, freeze bool) error {
	if freeze && a.t.fz != nil {
		thaw, err := a.t.fz.freezeForRead()
		if err != nil {
			return fmt.Errorf("stop the container's processes: %w", err)
		}
		defer thaw()
	}
	if a.baseline != "" {
		return archive.LayerSince(a.t.root, a.baseline, exportSkipped, hiddenChanges, w)
	}
	return archive.Layer(filepath.Join(rwMount, "upper"), hiddenChanges, w)
}

// exportSkipped are the directories docker export writes without their
// content: the kernel's file systems the tether mounts in the root.
var exportSkipped = []string{"/proc", "/sys", "/dev"}

// Export writes the root without what is mounted in it (kernel file
// systems, volumes, binds, tmpfs), as docker export leaves mounts out.
func (a archiver) Export(w io.Writer) error {
	skip := append([]string(nil), exportSkipped...)
	if a.baseline != "" {
		skip = append(skip, a.baseline)
	}
	if cfg := a.t.cfg; cfg != nil {
		for _, v := range cfg.Volumes {
			skip = append(skip, v.Path)
		}
		for _, m := range cfg.Tmpfs {
			skip = append(skip, m.Path)
		}
	}
	return archive.Export(a.t.root, skip, w)
}

func (a archiver) Size() (proto.Sizes, error) {
	if a.baseline != "" {
		rw, err := archive.SizeSince(a.t.root, a.baseline, exportSkipped)
		return proto.Sizes{RW: rw}, err
	}
	rw, err := archive.Size(filepath.Join(rwMount, "upper"))
	if err != nil {
		return proto.Sizes{}, err
	}
	return proto.Sizes{RW: rw}, nil
}

func (archiver) Kind(err error) string {
	switch {
	case errors.Is(err, archive.ErrNotFound):
		return proto.ArchiveNotFound
	case errors.Is(err, archive.ErrNotDir), errors.Is(err, archive.ErrInvalid):
		return proto.ArchiveInvalid
	case errors.Is(err, archive.ErrReadOnly):
		return proto.ArchiveForbidden
	}
	return ""
}
