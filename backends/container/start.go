package container

import (
	"context"
	"errors"
	"strings"

	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// Exit codes docker records for a failed start.
const (
	exitEaccess     = 126 // the command cannot be invoked
	exitCmdNotFound = 127 // the command does not exist
	exitUnknown     = 128 // anything else
)

// startFailure classifies a start error by its text, as docker does with
// runc's: a missing or non-executable command is the user's mistake (400,
// exit 126/127), anything else is the daemon's (500, exit 128) unless the
// port layer already gave it a class (kept as is; unclassified is 500).
func startFailure(err error) (code int, classed error) {
	msg := err.Error()
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "permission denied"):
		return exitEaccess, errdefs.InvalidParameter(msg)
	case strings.Contains(lower, "is a directory"):
		return exitEaccess, errdefs.InvalidParameter(msg + ": permission denied")
	case strings.Contains(lower, "not a directory"):
		return exitCmdNotFound, errdefs.InvalidParameter(msg + ": Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type")
	case strings.Contains(lower, "executable file not found"), strings.Contains(lower, "no such file or directory"):
		return exitCmdNotFound, errdefs.InvalidParameter(msg)
	}
	return exitUnknown, err
}

// started logs the start of a run and the mounts of its volumes, and
// begins its healthchecks.
func (b *Backend) started(id string, m *Meta) {
	b.networkEvents(b.ctx, id, events.ActionConnect)
	b.event(id, m, events.ActionStart, nil)
	b.volumeEvents(id, m, events.ActionMount)
	b.startHealth(id, m, b.now())
}

// ContainerStart boots the container VM.
func (b *Backend) ContainerStart(ctx context.Context, name string) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	id := c.Spec.ID
	if c.Status.State == compute.StateRunning || b.isRestarting(id) {
		return errdefs.New(errdefs.ErrNotModified, "container is already running")
	}
	// A user's start begins a new restart history. Reset it before the
	// VM starts, so that nobody sees the new run with the old count (a
	// run can end before Start returns).
	if m.ManuallyStopped || m.RestartCanceled || m.RestartCount != 0 {
		if err := b.updateMeta(context.WithoutCancel(ctx), id, func(m *Meta) {
			m.ManuallyStopped, m.RestartCanceled, m.RestartCount = false, false, 0
		}); err != nil {
			return err
		}
	}
	if err := b.checkBinds(c); err != nil {
		return err
	}
	if err := b.pl.Start(ctx, id); err != nil {
		if errdefs.IsNotModified(err) {
			return errdefs.New(errdefs.ErrNotModified, "container is already running")
		}
		if errdefs.IsConflict(err) && !errors.Is(err, compute.ErrVolumeInUse) {
			// Another start or a stop is under way: not a failed start.
			if now, ierr := b.pl.Inspect(ctx, id); ierr == nil && now.Status.State == compute.StateRunning {
				return errdefs.New(errdefs.ErrNotModified, "container is already running")
			}
			return err
		}
		code, classed := startFailure(err)
		b.log.Info("start failed", zap.String("id", id), zap.Int("exitCode", code), zap.Error(err))
		if uerr := b.updateMeta(context.WithoutCancel(ctx), id, func(m *Meta) {
			m.StartError = &StartError{Message: err.Error(), ExitCode: code, At: b.now().UTC()}
		}); uerr != nil {
			b.log.Warn("recording start error", zap.String("id", id), zap.Error(uerr))
		}
		if m.HostConfig.AutoRemove {
			if rerr := b.remove(context.WithoutCancel(ctx), id); rerr != nil {
				b.log.Warn("auto-remove after failed start", zap.String("id", id), zap.Error(rerr))
			}
		}
		return classed
	}
	if !m.Started || m.StartError != nil {
		if err := b.updateMeta(context.WithoutCancel(ctx), id, func(m *Meta) {
			m.Started = true
			m.StartError = nil
		}); err != nil {
			b.log.Warn("recording start", zap.String("id", id), zap.Error(err))
		}
	}
	b.started(id, m)
	b.watch(id)
	b.log.Info("started container", zap.String("id", id))
	return nil
}
