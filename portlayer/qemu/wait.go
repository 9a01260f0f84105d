package qemu

import (
	"context"

	"github.com/vchproject/vch/portlayer/compute"
)

// waitState is what a wait condition looks at.
type waitState struct {
	running bool // status running (a VM still booting is not)
	exits   int  // runs ended so far
	removed bool
}

// waitDone tells whether cond is met, given the state when Wait was called
// (at) and now.
func waitDone(cond compute.WaitCondition, at, now waitState) bool {
	switch cond {
	case compute.WaitNotRunning:
		return !now.running || now.removed
	case compute.WaitNextExit:
		return now.exits > at.exits || now.removed
	case compute.WaitRemoved:
		return now.removed
	}
	return true
}

func (v *vm) waitState() waitState {
	return waitState{running: v.rec.State == compute.StateRunning, exits: v.exits, removed: v.removed}
}

// Wait blocks until cond holds for id and returns the status then. Any
// number of callers may wait at once.
func (p *Provider) Wait(ctx context.Context, id string, cond compute.WaitCondition) (compute.Status, error) {
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return compute.Status{}, err
	}
	at := v.waitState()
	for {
		if waitDone(cond, at, v.waitState()) {
			st := copyContainer(v).Status
			p.mu.Unlock()
			return st, nil
		}
		ch := v.notify
		v.waiters++
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			v.waiters--
			p.mu.Unlock()
			return compute.Status{}, ctx.Err()
		}
		p.mu.Lock()
		v.waiters--
	}
}

// Waiters tells how many Wait calls are blocked on id (tests order a Wait
// before the event it waits for with it).
func (p *Provider) Waiters(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vms[id]; ok {
		return v.waiters
	}
	return 0
}
