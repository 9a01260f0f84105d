package qemu

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/tether/proto"
)

func pausedError(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is paused", id))
}

// isPaused tells whether the VM of id is paused.
func (p *Provider) isPaused(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.lookup(id)
	return err == nil && v.rec.Paused
}

// Pause stops the VM's vCPUs (QMP stop).
func (p *Provider) Pause(ctx context.Context, id string) error {
	r, err := p.running(id)
	if err != nil {
		return err
	}
	r.qmpMu.Lock()
	defer r.qmpMu.Unlock()
	if p.isPaused(id) {
		return errdefs.Conflict(fmt.Sprintf("Container %s is already paused", id))
	}
	// The processes stop first, so that docker cp can run the VM
	// while they stay stopped (pausedArchiveClient).
	r.frozen = false
	if err := p.request(ctx, id, proto.ReqFreeze, nil); err != nil {
		p.log.Warn("freeze before pause; docker cp will refuse while paused", zap.String("id", id), zap.Error(err))
	} else {
		r.frozen = true
	}
	if err := qmp(ctx, p.dial, filepath.Join(r.v.dir, fileQMP), "stop"); err != nil {
		p.thawProcesses(ctx, r)
		return fmt.Errorf("container %s: pause: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	return p.setPaused(r, true)
}

// Unpause resumes the VM's vCPUs (QMP cont) and resets the guest clock,
// which stood still while the VM was paused.
func (p *Provider) Unpause(ctx context.Context, id string) error {
	r, err := p.running(id)
	if err != nil {
		return err
	}
	r.qmpMu.Lock()
	defer r.qmpMu.Unlock()
	if !p.isPaused(id) {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", id))
	}
	return p.thaw(ctx, r)
}

// thaw continues a paused VM and resyncs its clock; called with r.qmpMu held.
func (p *Provider) thaw(ctx context.Context, r *runState) error {
	id := r.v.id
	if err := qmp(ctx, p.dial, filepath.Join(r.v.dir, fileQMP), "cont"); err != nil {
		return fmt.Errorf("container %s: unpause: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	if err := p.setPaused(r, false); err != nil {
		return err
	}
	if err := p.request(ctx, id, proto.ReqTime, proto.TimeRequest{UnixNano: p.clock.Now().UnixNano()}); err != nil {
		p.log.Warn("resync guest clock after unpause", zap.String("id", id), zap.Error(err))
	}
	p.thawProcesses(ctx, r)
	return nil
}

// thawProcesses continues the processes a pause stopped; called with
// r.qmpMu held and the VM running.
func (p *Provider) thawProcesses(ctx context.Context, r *runState) {
	if !r.frozen {
		return
	}
	r.frozen = false
	if err := p.request(ctx, r.v.id, proto.ReqThaw, nil); err != nil {
		p.log.Warn("thaw after unpause", zap.String("id", r.v.id), zap.Error(err))
	}
}

// errNotPaused: the container was unpaused meanwhile; look again.
var errNotPaused = errors.New("not paused any more")

// pausedArchiveClient serves docker cp on a paused container as docker
// does: the VM's vCPUs run (QMP cont) for the length of the archive call
// while the container's processes stay stopped (frozen at pause), then
// the VM is stopped again. The pause lock is held throughout, so unpause
// and kill wait for the copy.
func (p *Provider) pausedArchiveClient(ctx context.Context, r *runState) (*ssh.Client, func(), error) {
	id := r.v.id
	r.qmpMu.Lock()
	if !p.isPaused(id) {
		r.qmpMu.Unlock()
		return nil, nil, errNotPaused
	}
	if !r.frozen {
		r.qmpMu.Unlock()
		return nil, nil, pausedError(id)
	}
	qmpPath := filepath.Join(r.v.dir, fileQMP)
	if err := qmp(ctx, p.dial, qmpPath, "cont"); err != nil {
		r.qmpMu.Unlock()
		return nil, nil, fmt.Errorf("container %s: run the paused VM for the copy: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	var once sync.Once
	restop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := qmp(ctx, p.dial, qmpPath, "stop"); err != nil {
				p.log.Warn("pause again after docker cp", zap.String("id", id), zap.Error(err))
			}
			r.qmpMu.Unlock()
		})
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		restop()
		return nil, nil, fmt.Errorf("container %s: archive: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	return client, restop, nil
}

// thawIfPaused continues the VM of id if it is paused (before a signal).
func (p *Provider) thawIfPaused(ctx context.Context, id string) error {
	if !p.isPaused(id) {
		return nil
	}
	r, err := p.running(id)
	if err != nil {
		return err
	}
	r.qmpMu.Lock()
	defer r.qmpMu.Unlock()
	if !p.isPaused(id) {
		return nil
	}
	return p.thaw(ctx, r)
}

func (p *Provider) setPaused(r *runState, paused bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := r.v
	if v.run != r {
		return notRunning(v.id)
	}
	v.rec.Paused = paused
	p.persist(v)
	v.changed()
	return nil
}
