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

// needsWatch reports whether a run of m must be followed. Every run is:
// its end is the die event, besides AutoRemove and the restart policy.
func needsWatch(*Meta) bool { return true }

// watchState is one container's monitor.
type watchState struct {
	again bool // a start happened while the monitor was deciding to end
}

// watch follows id's runs: when one ends it removes an AutoRemove
// container, or restarts it as its restart policy says. Called after every
// successful start and, by New, for containers found running. A container
// has at most one monitor: two would each count and restart the same exit.
func (b *Backend) watch(id string) {
	b.rmu.Lock()
	if w, ok := b.watching[id]; ok {
		w.again = true
		b.rmu.Unlock()
		return
	}
	b.watching[id] = &watchState{}
	b.rmu.Unlock()
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		b.monitor(id)
	}()
}

// unwatch ends id's monitor unless a start asked it to go on meanwhile.
func (b *Backend) unwatch(id string) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if w := b.watching[id]; w != nil && w.again {
		w.again = false
		return false
	}
	delete(b.watching, id)
	return true
}

func (b *Backend) monitor(id string) {
	log := b.log.With(zap.String("id", id))
	for {
		if !b.follow(log, id) && b.unwatch(id) {
			return
		}
	}
}

// follow waits for id's current run to end and acts on it; it reports
// whether there is a next run to follow.
func (b *Backend) follow(log *zap.Logger, id string) bool {
	st, err := b.pl.Wait(b.ctx, id, compute.WaitNotRunning)
	if err != nil {
		if b.ctx.Err() == nil && !errdefs.IsNotFound(err) {
			log.Warn("watch: wait failed", zap.Error(err))
		}
		return false
	}
	b.died(b.ctx, id, st)
	if now, err := b.pl.Inspect(b.ctx, id); err == nil && now.Status.State == compute.StateRunning {
		return true // a user's start began a new run meanwhile: follow that
	}
	_, m, err := b.read(b.ctx, id)
	if err != nil {
		return false // removed meanwhile
	}
	if m.HostConfig.AutoRemove {
		if err := b.remove(b.ctx, id); err != nil && !errdefs.IsNotFound(err) {
			log.Warn("auto-remove failed", zap.Error(err))
			return false
		}
		log.Info("auto-removed container")
		return false
	}
	if m.RestartCanceled || !shouldRestart(m.HostConfig.RestartPolicy, st.ExitCode, m.ManuallyStopped, m.RestartCount) {
		return false
	}
	delay := b.nextDelay(id, st.FinishedAt.Sub(st.StartedAt))
	return b.restartOnce(log, id, st.ExitCode, delay, true)
}

// restartOnce counts and waits out one restart of id, then starts it. The
// container shows as restarting from before the count changes until the
// start has returned, so nobody sees an exited container with the new
// count. It reports whether the container runs again and is to be
// followed. count is false for the start of a container found exited when
// vchd starts (docker does not count that one either).
func (b *Backend) restartOnce(log *zap.Logger, id string, exitCode int, delay time.Duration, count bool) bool {
	return b.restartPending(log, id, exitCode, b.setRestarting(id), delay, count)
}

// restartPending is restartOnce for a container already marked restarting
// (p).
func (b *Backend) restartPending(log *zap.Logger, id string, exitCode int, p *pendingRestart, delay time.Duration, count bool) bool {
	if count {
		if err := b.updateMeta(b.ctx, id, func(m *Meta) { m.RestartCount++ }); err != nil {
			b.clearRestarting(id, p)
			return false
		}
	}
	log.Info("restarting container", zap.Int("exitCode", exitCode), zap.Duration("delay", delay))
	timer := time.NewTimer(delay)
	select {
	case <-timer.C:
	case <-p.cancel:
	case <-b.ctx.Done():
	}
	timer.Stop()
	if b.canceled(p) || b.ctx.Err() != nil {
		b.clearRestarting(id, p)
		return false
	}
	// A user's stop since the exit cancels a policy restart; the start of
	// a vchd restart ignores older stops (docker starts always
	// containers then even if the user had stopped them).
	if _, m, err := b.read(b.ctx, id); err != nil || (count && m.RestartCanceled) {
		b.clearRestarting(id, p)
		return false
	}
	// Binds are checked again at every run (checkBinds).
	var err error
	if c, ierr := b.pl.Inspect(b.ctx, id); ierr != nil {
		err = ierr
	} else if err = b.checkBinds(c); err == nil {
		err = b.pl.Start(b.ctx, id)
	}
	canceled := b.clearRestarting(id, p)
	if err != nil && !errdefs.IsNotModified(err) {
		code, _ := startFailure(err)
		log.Warn("restart failed", zap.Error(err))
		_ = b.updateMeta(context.WithoutCancel(b.ctx), id, func(m *Meta) {
			m.StartError = &StartError{Message: err.Error(), ExitCode: code, At: b.now().UTC()}
		})
		return false
	}
	if err == nil {
		if _, m, rerr := b.read(b.ctx, id); rerr == nil {
			b.started(id, m)
		}
	}
	if canceled {
		// The user stopped it while it booted: carry out that stop now.
		if err := b.ContainerStop(b.ctx, id, nil, ""); err != nil && !errdefs.IsNotModified(err) {
			log.Warn("stop after a canceled restart", zap.Error(err))
		}
		return false
	}
	return true
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
	b.restartMarks[id]++
	return p
}

// clearRestarting ends p's wait; it reports whether p had been canceled.
func (b *Backend) clearRestarting(id string, p *pendingRestart) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if b.restarting[id] == p {
		delete(b.restarting, id)
		b.restartMarks[id]++
	}
	return p.done
}

// canceled reports whether p's restart was canceled.
func (b *Backend) canceled(p *pendingRestart) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	return p.done
}

// isRestarting reports whether id waits for a restart.
func (b *Backend) isRestarting(id string) bool {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	_, ok := b.restarting[id]
	return ok
}

// forgetRestarts drops a removed container's back-off and mark count, so
// the maps (copied by every ps) hold only containers that exist.
func (b *Backend) forgetRestarts(id string) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	delete(b.delays, id)
	delete(b.restartMarks, id)
}

// restartView is the restart marks at one moment: which containers were
// marked restarting, and how often each mark has changed.
type restartView struct {
	on      map[string]bool
	changes map[string]uint64
}

func (b *Backend) restartView() restartView {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	v := restartView{on: make(map[string]bool, len(b.restarting)), changes: make(map[string]uint64, len(b.restartMarks))}
	for id := range b.restarting {
		v.on[id] = true
	}
	for id, n := range b.restartMarks {
		v.changes[id] = n
	}
	return v
}

// maxRereads bounds readAroundRestarts' retries.
const maxRereads = 100

// readAroundRestarts calls read, a read of the port layer's state, between
// two looks at the restart marks, and reports which containers are to show
// as restarting in what read saw. A restart marks its container before the
// count changes and clears the mark after the next start has returned, so
// a container marked at either look was read either exited (restarting) or
// running again (running wins in deriveState). A container whose mark was
// both set and cleared between the looks may have been read between its
// new count and its start, exited with the count of a run that has begun:
// read is done again then. Without this, inspect could report "exited"
// with the new RestartCount while the container already runs again.
func (b *Backend) readAroundRestarts(read func() error) (func(id string) bool, error) {
	for try := 0; ; try++ {
		before := b.restartView()
		if err := read(); err != nil {
			return nil, err
		}
		after := b.restartView()
		straddled := false
		for id, n := range after.changes {
			if n-before.changes[id] >= 2 {
				straddled = true
				break
			}
		}
		if !straddled || try == maxRereads {
			return func(id string) bool { return before.on[id] || after.on[id] }, nil
		}
	}
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
	b.restartMarks[id]++
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
