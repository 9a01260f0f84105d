package qemu

import (
	"context"
	"errors"
	"io"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// Archive sessions (compute.Archiver) are proto.ChanArchive channels to
// the tether: the running VM's, or for a container that is not running a
// maintenance VM's (maintenance.go), booted for the one call and powered
// off before it returns.

// openArchive opens an archive channel for spec on id's running VM, or on
// a maintenance VM if id is not running. A VM that is on its way down is
// waited for, and the call then goes to a maintenance VM.
func (p *Provider) openArchive(ctx context.Context, id string, spec proto.ArchiveSpec) (*tetherlink.ArchiveSession, error) {
	return tetherlink.OpenArchiveRetrying(ctx, id, spec,
		func(ctx context.Context) (*ssh.Client, func(), error) { return p.archiveClient(ctx, id) },
		func(ctx context.Context) error {
			// The main process ended and the VM powers off: wait for that.
			_, err := p.Wait(ctx, id, compute.WaitNotRunning)
			return err
		})
}

// opener is openArchive for one container.
func (p *Provider) opener(id string) tetherlink.ArchiveOpener {
	return func(ctx context.Context, spec proto.ArchiveSpec) (*tetherlink.ArchiveSession, error) {
		return p.openArchive(ctx, id, spec)
	}
}

// archiveClient returns a control connection that can serve archive
// sessions for id and the function that ends its use.
func (p *Provider) archiveClient(ctx context.Context, id string) (*ssh.Client, func(), error) {
	for {
		p.mu.Lock()
		v, err := p.lookup(id)
		if err != nil {
			p.mu.Unlock()
			return nil, nil, err
		}
		switch {
		case v.run != nil && v.rec.Paused:
			r := v.run
			p.mu.Unlock()
			client, release, err := p.pausedArchiveClient(ctx, r)
			if errors.Is(err, errNotPaused) {
				continue
			}
			return client, release, err
		case v.run != nil && v.rec.State == compute.StateRunning:
			r := v.run
			p.mu.Unlock()
			client, err := r.ctl.get(ctx, r)
			if err != nil {
				// Gone meanwhile: wait for the exit to be handled.
				if _, werr := p.Wait(ctx, id, compute.WaitNotRunning); werr != nil {
					return nil, nil, werr
				}
				continue
			}
			return client, func() {}, nil
		case v.run != nil || v.starting:
			p.mu.Unlock()
			if _, err := p.Wait(ctx, id, compute.WaitNotRunning); err != nil {
				return nil, nil, err
			}
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			continue
		}
		p.mu.Unlock()
		return p.maintenance(ctx, v)
	}
}

// ArchiveStat describes path in the container.
func (p *Provider) ArchiveStat(ctx context.Context, id, path string) (compute.PathStat, error) {
	return tetherlink.ArchiveStat(ctx, p.opener(id), id, path)
}

// ArchiveGet streams the tar of path to the writer open returns.
func (p *Provider) ArchiveGet(ctx context.Context, id, path string, open func(compute.PathStat) (io.Writer, error)) error {
	return tetherlink.ArchiveGet(ctx, p.opener(id), id, path, open)
}

// ArchivePut extracts the tar from in into the directory path.
func (p *Provider) ArchivePut(ctx context.Context, id, path string, in io.Reader, opts compute.PutOptions) error {
	return tetherlink.ArchivePut(ctx, p.opener(id), id, path, in, opts)
}

// Changes lists the writable layer's changes.
func (p *Provider) Changes(ctx context.Context, id string) ([]compute.Change, error) {
	return tetherlink.ArchiveChanges(ctx, p.opener(id), id)
}

// Sizes measures a running VM's layers; for one that is not running it
// reports the sizes measured at its last maintenance boot (or zeros).
func (p *Provider) Sizes(ctx context.Context, id string) (compute.Sizes, error) {
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return compute.Sizes{}, err
	}
	last := v.rec.Sizes
	running := v.run != nil && v.rec.State == compute.StateRunning && !v.rec.Paused
	p.mu.Unlock()
	if !running {
		if last == nil {
			return compute.Sizes{}, nil
		}
		return *last, nil
	}
	r, err := p.running(id)
	if err != nil {
		return compute.Sizes{}, nil
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return compute.Sizes{}, nil
	}
	sz, err := tetherlink.QuerySizes(ctx, client, id)
	if err != nil {
		return compute.Sizes{}, err
	}
	p.rememberSizes(id, sz)
	return sz, nil
}

// rememberSizes keeps the last measured sizes in status.json.
func (p *Provider) rememberSizes(id string, sz compute.Sizes) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, err := p.lookup(id); err == nil {
		v.rec.Sizes = &sz
		p.persist(v)
	}
}

// ArchiveLayer writes the container's writable layer to w as an OCI image
// layer tar (docker commit): running, live, with its processes stopped
// meanwhile if freeze; otherwise through a maintenance VM.
func (p *Provider) ArchiveLayer(ctx context.Context, id string, freeze bool, w io.Writer) error {
	return p.archiveStream(ctx, id, proto.ArchiveSpec{Op: proto.ArchiveLayer, Freeze: freeze}, w)
}

// ArchiveExport writes the tar of the container's whole root file system
// to w (docker export).
func (p *Provider) ArchiveExport(ctx context.Context, id string, w io.Writer) error {
	return p.archiveStream(ctx, id, proto.ArchiveSpec{Op: proto.ArchiveExport}, w)
}

// archiveStream runs an archive operation whose only output is its data.
func (p *Provider) archiveStream(ctx context.Context, id string, spec proto.ArchiveSpec, w io.Writer) error {
	return tetherlink.ArchiveStream(ctx, p.opener(id), id, spec, w)
}
