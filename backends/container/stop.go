package container

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// defaultStopTimeout is docker's, in seconds.
const defaultStopTimeout = 10

// stopSignal is the signal a stop sends: the request's, the container's
// StopSignal, or SIGTERM.
func stopSignal(m *Meta, requested string) (syscall.Signal, error) {
	s := requested
	if s == "" {
		s = m.Config.StopSignal
	}
	if s == "" {
		return syscall.SIGTERM, nil
	}
	return parseSignal(s)
}

// ContainerStop stops a running container: its stop signal, then SIGKILL
// after the timeout, then power-off.
func (b *Backend) ContainerStop(ctx context.Context, name string, timeout *int, signal string) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	sig, err := stopSignal(m, signal)
	if err != nil {
		return err
	}
	id := c.Spec.ID
	if b.isRestarting(id) {
		return b.markStopped(context.WithoutCancel(ctx), id, true)
	}
	// Marked even when already stopped: a restart about to be scheduled
	// for a run that just ended must not happen after the user's stop.
	if err := b.markStopped(context.WithoutCancel(ctx), id, true); err != nil {
		return err
	}
	if c.Status.State != compute.StateRunning {
		return errdefs.New(errdefs.ErrNotModified, "container is already stopped")
	}
	t := defaultStopTimeout
	if m.Config.StopTimeout != nil {
		t = *m.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	// Like docker, a client that goes away does not cancel a stop.
	if err := b.stop(context.WithoutCancel(ctx), id, sig, t); err != nil {
		return fmt.Errorf("cannot stop container: %s: %w", name, err)
	}
	b.diedNow(ctx, id)
	b.eventByID(ctx, id, events.ActionStop, nil)
	return nil
}

// stop drives the stop sequence of stopstep.go against the port layer.
func (b *Backend) stop(ctx context.Context, id string, sig syscall.Signal, timeout int) error {
	sm := &stopMachine{Signal: sig, Timeout: timeout}
	var obs stopObservation
	for {
		act := sm.next(obs)
		obs = stopObservation{}
		switch act.Kind {
		case actSignal:
			b.eventByID(ctx, id, events.ActionKill, signalAttr(int(act.Signal)))
			obs.Err = b.pl.Signal(ctx, id, act.Signal)
			if obs.Err != nil {
				b.log.Info("stop: signal failed", zap.String("id", id), zap.Int("signal", int(act.Signal)), zap.Error(obs.Err))
			}
		case actWait:
			wctx, cancel := ctx, context.CancelFunc(func() {})
			if !act.Forever {
				wctx, cancel = context.WithTimeout(ctx, act.Wait)
			}
			st, err := b.pl.Wait(wctx, id, compute.WaitNotRunning)
			cancel()
			switch {
			case err == nil:
				obs.Stopped = st.State != compute.StateRunning
			case errdefs.IsNotFound(err):
				obs.Stopped = true // removed meanwhile
			case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
				// the timeout elapsed; the machine decides what follows
			default:
				obs.Err = err
			}
		case actPowerOff:
			b.log.Info("stop: powering off", zap.String("id", id))
			b.eventByID(ctx, id, events.ActionKill, signalAttr(int(syscall.SIGKILL)))
			obs.Err = b.pl.Kill(ctx, id)
		case actDone:
			return nil
		case actFail:
			if act.Err == nil {
				return errors.New("stop interrupted")
			}
			return act.Err
		}
	}
}

// ContainerKill sends a signal (default SIGKILL, which powers the VM off
// and waits until it is down, as docker kill waits for the exit).
func (b *Backend) ContainerKill(ctx context.Context, name string, signal string) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if signal != "" {
		if sig, err = parseSignal(signal); err != nil {
			return err
		}
	}
	id := c.Spec.ID
	notRunning := errdefs.Conflict(fmt.Sprintf("cannot kill container: %s: container %s is not running", name, id))
	cancel := cancelsRestart(sig, m.Config.StopSignal)
	if b.isRestarting(id) {
		// docker: a restarting container needs no signal, only the flags
		return b.markStopped(context.WithoutCancel(ctx), id, cancel)
	}
	if c.Status.State != compute.StateRunning {
		return notRunning
	}
	if err := b.markStopped(context.WithoutCancel(ctx), id, cancel); err != nil {
		return err
	}
	b.event(id, m, events.ActionKill, signalAttr(int(sig)))
	if sig != syscall.SIGKILL {
		if err := b.pl.Signal(ctx, id, sig); err != nil {
			if errdefs.IsConflict(err) {
				return notRunning
			}
			return fmt.Errorf("cannot kill container: %s: %w", name, err)
		}
		return nil
	}
	if err := b.pl.Kill(ctx, id); err != nil && !errdefs.IsConflict(err) {
		return fmt.Errorf("cannot kill container: %s: %w", name, err)
	}
	st, err := b.pl.Wait(context.WithoutCancel(ctx), id, compute.WaitNotRunning)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("cannot kill container: %s: %w", name, err)
	}
	if err == nil {
		b.died(ctx, id, st)
	}
	return nil
}
