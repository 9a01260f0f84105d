package fake

import (
	"context"
	"fmt"

	"github.com/vchproject/vch/errdefs"
)

// Pause implements compute.Pauser: it only flips the status (the fake's
// programs keep running, but a paused container takes no exec).
func (p *Provider) Pause(_ context.Context, id string) error {
	return p.setPaused(id, true)
}

// Unpause implements compute.Pauser.
func (p *Provider) Unpause(_ context.Context, id string) error {
	return p.setPaused(id, false)
}

func (p *Provider) setPaused(id string, paused bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return err
	}
	switch {
	case v.run == nil:
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
	case paused && v.c.Status.Paused:
		return errdefs.Conflict(fmt.Sprintf("Container %s is already paused", id))
	case !paused && !v.c.Status.Paused:
		return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", id))
	}
	v.c.Status.Paused = paused
	v.notify()
	return nil
}

func pausedError(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is paused", id))
}
