package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/archive"
	"github.com/vchproject/vch/tether/proto"
)

// The fake keeps each container's files in a host directory (made on
// first use under the provider's directory, removed with the container;
// the provider's own directory is removed by Close) and serves docker cp,
// diff and sizes from it with the tether's own archive code. Everything in
// it counts as added: the fake has no image layer.

// rootDir returns id's file tree.
func (p *Provider) rootDir(id string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return "", err
	}
	if v.root == "" {
		if p.dir == "" {
			if p.TempDir != "" {
				p.dir = p.TempDir
			} else {
				d, err := os.MkdirTemp("", "vch-fake-root-")
				if err != nil {
					return "", fmt.Errorf("fake compute: make its directory: %w", err)
				}
				p.dir, p.owned = d, true
			}
		}
		d, err := os.MkdirTemp(p.dir, "c-")
		if err != nil {
			return "", fmt.Errorf("fake compute: make the files of %s: %w", id, err)
		}
		v.root = d
	}
	return v.root, nil
}

// Close removes the directory the provider made for the containers'
// files (none if TempDir was set). The provider stays usable: a later
// archive call makes a new one.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.owned {
		return nil
	}
	dir := p.dir
	p.dir, p.owned = "", false
	for _, v := range p.vms {
		v.root = ""
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("fake compute: remove %s: %w", dir, err)
	}
	return nil
}

func (p *Provider) openRoot(id string) (*archive.Root, error) {
	dir, err := p.rootDir(id)
	if err != nil {
		return nil, err
	}
	return archive.OpenRoot(dir)
}

func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, archive.ErrNotFound):
		return errdefs.NotFound(err.Error())
	case errors.Is(err, archive.ErrNotDir), errors.Is(err, archive.ErrInvalid):
		return errdefs.InvalidParameter(err.Error())
	case errors.Is(err, archive.ErrReadOnly):
		return errdefs.New(errdefs.ErrForbidden, err.Error())
	}
	return err
}

func pathStat(s proto.PathStat) compute.PathStat {
	return compute.PathStat{Name: s.Name, Size: s.Size, Mode: s.Mode, Mtime: s.Mtime, LinkTarget: s.LinkTarget}
}

// ArchiveStat implements compute.Archiver.
func (p *Provider) ArchiveStat(_ context.Context, id, path string) (compute.PathStat, error) {
	r, err := p.openRoot(id)
	if err != nil {
		return compute.PathStat{}, err
	}
	defer r.Close()
	st, err := r.Stat(path)
	return pathStat(st), classify(err)
}

// ArchiveGet implements compute.Archiver.
func (p *Provider) ArchiveGet(_ context.Context, id, path string, open func(compute.PathStat) (io.Writer, error)) error {
	r, err := p.openRoot(id)
	if err != nil {
		return err
	}
	defer r.Close()
	var w io.Writer
	err = r.Get(path, writerFunc(func(b []byte) (int, error) { return w.Write(b) }), func(st proto.PathStat) error {
		var err error
		w, err = open(pathStat(st))
		return err
	})
	return classify(err)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// ArchivePut implements compute.Archiver.
func (p *Provider) ArchivePut(_ context.Context, id, path string, in io.Reader, opts compute.PutOptions) error {
	r, err := p.openRoot(id)
	if err != nil {
		return err
	}
	defer r.Close()
	return classify(r.Put(path, in, archive.PutOptions{CopyUIDGID: opts.CopyUIDGID, NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir}))
}

// Changes implements compute.Archiver: everything in the fake's tree is
// an addition.
func (p *Provider) Changes(_ context.Context, id string) ([]compute.Change, error) {
	dir, err := p.rootDir(id)
	if err != nil {
		return nil, err
	}
	cs, err := archive.Changes(dir, dir+".no-lower", []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", id, err)
	}
	out := make([]compute.Change, len(cs))
	for i, c := range cs {
		out[i] = compute.Change{Path: c.Path, Kind: compute.ChangeKind(c.Kind)}
	}
	return out, nil
}

// Sizes implements compute.Archiver.
func (p *Provider) Sizes(_ context.Context, id string) (compute.Sizes, error) {
	dir, err := p.rootDir(id)
	if err != nil {
		return compute.Sizes{}, err
	}
	n, err := archive.Size(dir)
	return compute.Sizes{RW: n}, err
}

// ArchiveLayer writes the fake's tree as an OCI layer tar (all additions).
func (p *Provider) ArchiveLayer(_ context.Context, id string, _ bool, w io.Writer) error {
	dir, err := p.rootDir(id)
	if err != nil {
		return err
	}
	return archive.Layer(dir, []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}, w)
}

// ArchiveExport writes the fake's tree as docker export's tar.
func (p *Provider) ArchiveExport(_ context.Context, id string, w io.Writer) error {
	dir, err := p.rootDir(id)
	if err != nil {
		return err
	}
	return archive.Export(dir, nil, w)
}
