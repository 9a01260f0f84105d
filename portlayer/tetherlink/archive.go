package tetherlink

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
// the tether. How a provider reaches a tether that can serve one (the
// running VM's, a maintenance boot's) is its own business: it hands the
// functions here an ArchiveOpener.

// ArchiveSession is the host's end of one archive channel.
type ArchiveSession struct {
	ch      ssh.Channel
	replies chan proto.ArchiveReply // closed when the tether closed the channel
	release func()
}

// ArchiveOpener opens an archive session for spec on one container.
type ArchiveOpener func(ctx context.Context, spec proto.ArchiveSpec) (*ArchiveSession, error)

// OpenArchive opens an archive channel for spec on client; release runs
// when the session is closed. The channel's error is returned as is (a
// caller may retry on proto.ArchiveStopping), and release is not run
// then.
func OpenArchive(client *ssh.Client, spec proto.ArchiveSpec, release func()) (*ArchiveSession, error) {
	extra, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	ch, reqs, err := client.OpenChannel(proto.ChanArchive, extra)
	if err != nil {
		return nil, err
	}
	if release == nil {
		release = func() {}
	}
	s := &ArchiveSession{ch: ch, replies: make(chan proto.ArchiveReply, 2), release: release}
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

// IsArchiveStopping tells whether err from OpenArchive says the VM is
// powering off (or its connection ended): wait for it and try again.
func IsArchiveStopping(err error) bool {
	var oce *ssh.OpenChannelError
	return (errors.As(err, &oce) && oce.Message == proto.ArchiveStopping) || errors.Is(err, io.EOF)
}

// ArchiveClient returns a client whose tether can serve archive sessions
// for a container and the function that ends its use.
type ArchiveClient func(ctx context.Context) (*ssh.Client, func(), error)

// archiveRetries bounds the tries after a tether refused with
// proto.ArchiveStopping.
const archiveRetries = 3

// OpenArchiveRetrying opens an archive session for spec on the client
// that client gives. A tether that refuses because its VM is on its way
// down (IsArchiveStopping) is waited for with stopped (the container no
// longer running), and client is asked again: it then gives another
// client (a maintenance boot's). Other refusals are ErrUnavailable.
func OpenArchiveRetrying(ctx context.Context, id string, spec proto.ArchiveSpec, client ArchiveClient, stopped func(context.Context) error) (*ArchiveSession, error) {
	for attempt := 0; ; attempt++ {
		cl, release, err := client(ctx)
		if err != nil {
			return nil, err
		}
		s, err := OpenArchive(cl, spec, release)
		if err == nil {
			return s, nil
		}
		release()
		if attempt >= archiveRetries || !IsArchiveStopping(err) {
			return nil, fmt.Errorf("container %s: archive: %v: %w", id, err, errdefs.ErrUnavailable)
		}
		if err := stopped(ctx); err != nil {
			return nil, err
		}
	}
}

// Close ends the session.
func (s *ArchiveSession) Close() {
	s.ch.Close()
	s.release()
}

// Next waits for the tether's next reply.
func (s *ArchiveSession) Next(ctx context.Context, id string) (proto.ArchiveReply, error) {
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

// PathStat converts the tether's stat.
func PathStat(s *proto.PathStat) compute.PathStat {
	if s == nil {
		return compute.PathStat{}
	}
	return compute.PathStat{Name: s.Name, Size: s.Size, Mode: s.Mode, Mtime: s.Mtime, LinkTarget: s.LinkTarget}
}

// ArchiveStat describes path in container id.
func ArchiveStat(ctx context.Context, open ArchiveOpener, id, path string) (compute.PathStat, error) {
	s, err := open(ctx, proto.ArchiveSpec{Op: proto.ArchiveStat, Path: path})
	if err != nil {
		return compute.PathStat{}, err
	}
	defer s.Close()
	r, err := s.Next(ctx, id)
	if err != nil {
		return compute.PathStat{}, err
	}
	return PathStat(r.Stat), nil
}

// ArchiveGet streams the tar of path to the writer openW returns.
func ArchiveGet(ctx context.Context, open ArchiveOpener, id, path string, openW func(compute.PathStat) (io.Writer, error)) error {
	s, err := open(ctx, proto.ArchiveSpec{Op: proto.ArchiveGet, Path: path})
	if err != nil {
		return err
	}
	defer s.Close()
	r, err := s.Next(ctx, id)
	if err != nil {
		return err
	}
	w, err := openW(PathStat(r.Stat))
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, s.ch); err != nil {
		return fmt.Errorf("container %s: archive of %s: %w", id, path, err)
	}
	_, err = s.Next(ctx, id)
	return err
}

// ArchivePut extracts the tar from in into the directory path.
func ArchivePut(ctx context.Context, open ArchiveOpener, id, path string, in io.Reader, opts compute.PutOptions) error {
	s, err := open(ctx, proto.ArchiveSpec{Op: proto.ArchivePut, Path: path,
		CopyUIDGID: opts.CopyUIDGID, NoOverwriteDirNonDir: opts.NoOverwriteDirNonDir})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Next(ctx, id); err != nil {
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

// ArchiveChanges lists the container's file system changes (docker diff).
func ArchiveChanges(ctx context.Context, open ArchiveOpener, id string) ([]compute.Change, error) {
	s, err := open(ctx, proto.ArchiveSpec{Op: proto.ArchiveChanges})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := s.Next(ctx, id); err != nil {
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
	if _, err := s.Next(ctx, id); err != nil {
		return nil, err
	}
	return out, nil
}

// ArchiveStream runs an archive operation whose only output is its data
// (docker export, commit's layer).
func ArchiveStream(ctx context.Context, open ArchiveOpener, id string, spec proto.ArchiveSpec, w io.Writer) error {
	s, err := open(ctx, spec)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Next(ctx, id); err != nil {
		return err
	}
	if _, err := io.Copy(w, s.ch); err != nil {
		return fmt.Errorf("container %s: %s: %w", id, spec.Op, err)
	}
	_, err = s.Next(ctx, id)
	return err
}

// QuerySizes measures the container's writable layer on client.
func QuerySizes(ctx context.Context, client *ssh.Client, id string) (compute.Sizes, error) {
	s, err := OpenArchive(client, proto.ArchiveSpec{Op: proto.ArchiveSize}, nil)
	if err != nil {
		return compute.Sizes{}, fmt.Errorf("container %s: sizes: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	defer s.Close()
	r, err := s.Next(ctx, id)
	if err != nil || r.Size == nil {
		return compute.Sizes{}, err
	}
	return compute.Sizes{RW: r.Size.RW}, nil
}
