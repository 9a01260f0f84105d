package container

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// pendingRestart is a container between runs, waiting out its back-off.
type pendingRestart struct {
	cancel chan struct{}
	done   bool
}

// needsWatch reports whether a run of m must be followed (AutoRemove or a
// restart policy).
func needsWatch(m *Meta) bool {
	return m.HostConfig.AutoRemove || !m.HostConfig.RestartPolicy.IsNone()
}

// watch follows id's runs: when one ends it removes an AutoRemove
// container, or restarts it as its restart policy says. Called after every
// successful start and, by New, for containers found running.
func (b *Backend) watch(id string) {
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.monitor(id)
	}()
}

func (b *Backend) monitor(id string) {
	log := b.log.With(zap.String("id", id))
	for {
		st, err := b.pl.Wait(b.ctx, id, compute.WaitNotRunning)
		if err != nil {
			if b.ctx.Err() == nil && !errdefs.IsNotFound(err) {
				log.Warn("watch: wait failed", zap.Error(err))
			}
			return
		}
		_, m, err := b.read(b.ctx, id)
		if err != nil {
			return // removed meanwhile
		}
		if m.HostConfig.AutoRemove {
			if err := b.remove(b.ctx, id); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("auto-remove failed", zap.Error(err))
				return
			}
			log.Info("auto-removed container")
			return
		}
		if m.RestartCanceled || !shouldRestart(m.HostConfig.RestartPolicy, st.ExitCode, m.ManuallyStopped, m.RestartCount) {
			return
		}
		delay := b.nextDelay(id, st.FinishedAt.Sub(st.StartedAt))
		if err := b.updateMeta(b.ctx, id, func(m *Meta) { m.RestartCount++ }); err != nil {
			return
		}
		p := b.setRestarting(id)
		log.Info("restarting container", zap.Int("exitCode", st.ExitCode), zap.Duration("delay", delay))
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-p.cancel:
		case <-b.ctx.Done():
		}
		timer.Stop()
		canceled := b.clearRestarting(id, p)
		if canceled || b.ctx.Err() != nil {
			return
		}
		if _, m, err = b.read(b.ctx, id); err != nil || m.RestartCanceled {
			return
		}
		if err := b.pl.Start(b.ctx, id); err != nil && !errdefs.IsNotModified(err) {
			code, _ := startFailure(err)
			log.Warn("restart failed", zap.Error(err))
			_ = b.updateMeta(context.WithoutCancel(b.ctx), id, func(m *Meta) {
				m.StartError = &StartError{Message: err.Error(), ExitCode: code, At: b.now().UTC()}
			})
			return
		}
	}
}

// nextDelay advances id's back-off.
func (b *Backend) nextDelay(id string, ranFor time.Duration) time.Duration {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	d := b.delayFn(b.delays[id], ranFor)
	b.delays[id] = d
	return d
}

func (b *Backend) setRestarting(id string) *pendingRestart {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	p := &pendingRestart{cancel: make(chan struct{})}
	b.restarting[id] = p
	return p
}

// clearRestarting ends p's wait; it reports whether p had been canceled.
func (b *Backend) clearRestarting(id string, p *pendingRestart) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if b.restarting[id] == p {
		delete(b.restarting, id)
	}
	return p.done
}

// isRestarting reports whether id waits for a restart.
func (b *Backend) isRestarting(id string) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	_, ok := b.restarting[id]
	return ok
}

// cancelRestart stops a pending restart of id; it reports whether there
// was one.
func (b *Backend) cancelRestart(id string) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	p, ok := b.restarting[id]
	if !ok {
		return false
	}
	delete(b.restarting, id)
	if !p.done {
		p.done = true
		close(p.cancel)
	}
	return true
}

// markStopped records that the user stopped or signalled id: for
// unless-stopped (manual) and for any pending or future restart (cancel).
func (b *Backend) markStopped(ctx context.Context, id string, cancel bool) error {
	if cancel {
		b.cancelRestart(id)
	}
	return b.updateMeta(ctx, id, func(m *Meta) {
		m.ManuallyStopped = true
		m.RestartCanceled = m.RestartCanceled || cancel
	})
}
