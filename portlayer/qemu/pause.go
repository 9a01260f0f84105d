package qemu

import (
	"context"
	"fmt"
	"path/filepath"

	"go.uber.org/zap"

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
	if err := qmp(ctx, p.dial, filepath.Join(r.v.dir, fileQMP), "stop"); err != nil {
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
	return nil
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
