package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// Archive sessions (compute.Archiver) are proto.ChanArchive channels to
// the tether: the running VM's, or for a container that is not running a
// maintenance VM's (maintenance.go), booted for the one call and powered
// off before it returns.

// archiveSession is the host's end of one archive channel.
type archiveSession struct {
	ch      ssh.Channel
	replies chan proto.ArchiveReply // closed when the tether closed the channel
	release func()
}

func (s *archiveSession) close() {
	s.ch.Close()
	s.release()
}

// next waits for the tether's next reply.
func (s *archiveSession) next(ctx context.Context, id string) (proto.ArchiveReply, error) {
	select {
	case r, ok := <-s.replies:
		if !ok {
			return r, fmt.Errorf("container %s: the VM ended the archive session: %w", id, errdefs.ErrUnavailable)
		}
		if r.Error != "" {
			return r, archiveError(r)
		}
		return r, nil
	case <-ctx.Done():
		return proto.ArchiveReply{}, ctx.Err()
	}
}

func archiveError(r proto.ArchiveReply) error {
	switch r.Kind {
	case proto.ArchiveNotFound:
		return errdefs.NotFound(r.Error)
	case proto.ArchiveInvalid:
		return errdefs.InvalidParameter(r.Error)
	case proto.ArchiveForbidden:
		return errdefs.New(errdefs.ErrForbidden, r.Error)
	}
	return errors.New(r.Error)
}

// openArchive opens an archive channel for spec on id's running VM, or on
// a maintenance VM if id is not running. A VM that is on its way down is
// waited for, and the call then goes to a maintenance VM.
func (p *Provider) openArchive(ctx context.Context, id string, spec proto.ArchiveSpec) (*archiveSession, error) {
	extra, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		client, release, err := p.archiveClient(ctx, id)
		if err != nil {
			return nil, err
		}
		ch, reqs, err := client.OpenChannel(proto.ChanArchive, extra)
		if err == nil {
			s := &archiveSession{ch: ch, replies: make(chan proto.ArchiveReply, 2), release: release}
			go func() {
				defer close(s.replies)
				for req := range reqs {
					var r proto.ArchiveReply
					if json.Unmarshal(req.Payload, &r) == nil {
						s.replies <- r
					}
					if req.WantReply {
						_ = req.Reply(false, nil)
					}
				}
			}()
			return s, nil
		}
		release()
		var oce *ssh.OpenChannelError
		stopping := errors.As(err, &oce) && oce.Message == proto.ArchiveStopping
		if attempt >= 3 || (!stopping && !errors.Is(err, io.EOF)) {
			return nil, fmt.Errorf("container %s: archive: %v: %w", id, err, errdefs.ErrUnavailable)
		}
		// The main process ended and the VM powers off: wait for that.
		if _, err := p.Wait(ctx, id, compute.WaitNotRunning); err != nil {
			return nil, err
		}
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
	s, err := p.openArchive(ctx, id, proto.ArchiveSpec{Op: proto.ArchiveStat, Path: path})
	if err != nil {
		return compute.PathStat{}, err
	}
	defer s.close()
	r, err := s.next(ctx, id)
	if err != nil {
		return compute.PathStat{}, err
	}
	return pathStat(r.Stat), nil
}

// ArchiveGet streams the tar of path to the writer open returns.
func (p *Provider) ArchiveGet(ctx context.Context, id, path string, open func(compute.PathStat) (io.Writer, error)) error {
	s, err := p.openArchive(ctx, id, proto.ArchiveSpec{Op: proto.ArchiveGet, Path: path})
	if err != nil {
		return err
	}
	defer s.close()
	r, err := s.next(ctx, id)
	if err != nil {
		return err
	}
	w, err := open(pathStat(r.Stat))
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, s.ch); err != nil {
		return fmt.Errorf("container %s: archive of %s: %w", id, path, err)
	}
	_, err = s.next(ctx, id)
	return err
}

// ArchivePut extracts the tar from in into the directory path.
func (p *Provider) ArchivePut(ctx context.Context, id, path string, in io.Reader, opts compute.PutOptions) error {
	s, err := p.openArchive(ctx, id, proto.ArchiveSpec{Op: proto.ArchivePut, Path: path,
		CopyUIDGID: opts.CopyUIDGID, NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir})
	if err != nil {
		return err
	}
	defer s.close()
	if _, err := s.next(ctx, id); err != nil {
		return err
	}
	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(s.ch, in)
		if err == nil {
			err = s.ch.CloseWrite()
		}
		copied <- err
	}()
	// The tether answers once it extracted everything, or as soon as it
	// refused the archive (the deferred close then cuts the copy). A
	// client body that breaks off ends the channel, so the tether sees
	// the archive end early and removes what it extracted.
	for {
		select {
		case err := <-copied:
			if err != nil {
				s.ch.Close()
				return errdefs.InvalidParameter(fmt.Sprintf("container %s: read archive: %v", id, err))
			}
			copied = nil
		case r, ok := <-s.replies:
			if !ok {
				return fmt.Errorf("container %s: the VM ended the archive session: %w", id, errdefs.ErrUnavailable)
			}
			if r.Error != "" {
				return archiveError(r)
			}
			if copied != nil {
				if err := <-copied; err != nil {
					return fmt.Errorf("container %s: send archive: %w", id, err)
				}
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Changes lists the writable layer's changes.
func (p *Provider) Changes(ctx context.Context, id string) ([]compute.Change, error) {
	s, err := p.openArchive(ctx, id, proto.ArchiveSpec{Op: proto.ArchiveChanges})
	if err != nil {
		return nil, err
	}
	defer s.close()
	if _, err := s.next(ctx, id); err != nil {
		return nil, err
	}
	var out []compute.Change
	sc := bufio.NewScanner(s.ch)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var c proto.Change
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("container %s: changes: %w", id, err)
		}
		out = append(out, compute.Change{Path: c.Path, Kind: compute.ChangeKind(c.Kind)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("container %s: changes: %w", id, err)
	}
	if _, err := s.next(ctx, id); err != nil {
		return nil, err
	}
	return out, nil
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
	sz, err := querySizes(ctx, client, id)
	if err != nil {
		return compute.Sizes{}, err
	}
	p.rememberSizes(id, sz)
	return sz, nil
}

func querySizes(ctx context.Context, client *ssh.Client, id string) (compute.Sizes, error) {
	extra, _ := json.Marshal(proto.ArchiveSpec{Op: proto.ArchiveSize})
	ch, reqs, err := client.OpenChannel(proto.ChanArchive, extra)
	if err != nil {
		return compute.Sizes{}, fmt.Errorf("container %s: sizes: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	s := &archiveSession{ch: ch, replies: make(chan proto.ArchiveReply, 1), release: func() {}}
	defer s.close()
	go func() {
		defer close(s.replies)
		for req := range reqs {
			var r proto.ArchiveReply
			if json.Unmarshal(req.Payload, &r) == nil {
				s.replies <- r
			}
		}
	}()
	r, err := s.next(ctx, id)
	if err != nil || r.Size == nil {
		return compute.Sizes{}, err
	}
	return compute.Sizes{RW: r.Size.RW}, nil
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

func pathStat(s *proto.PathStat) compute.PathStat {
	if s == nil {
		return compute.PathStat{}
	}
	return compute.PathStat{Name: s.Name, Size: s.Size, Mode: s.Mode, Mtime: s.Mtime, LinkTarget: s.LinkTarget}
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
	s, err := p.openArchive(ctx, id, spec)
	if err != nil {
		return err
	}
	defer s.close()
	if _, err := s.next(ctx, id); err != nil {
		return err
	}
	if _, err := io.Copy(w, s.ch); err != nil {
		return fmt.Errorf("container %s: %s: %w", id, spec.Op, err)
	}
	_, err = s.next(ctx, id)
	return err
}
