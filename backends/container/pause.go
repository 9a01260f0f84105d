package container

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// ContainerPause stops the container VM's vCPUs.
func (b *Backend) ContainerPause(ctx context.Context, name string) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	if c.Status.State != compute.StateRunning {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", c.Spec.ID))
	}
	if c.Status.Paused {
		return errdefs.Conflict(fmt.Sprintf("Container %s is already paused", c.Spec.ID))
	}
	if err := b.pl.Pause(ctx, c.Spec.ID); err != nil {
		return err
	}
	b.event(c.Spec.ID, m, events.ActionPause, nil)
	return nil
}

// ContainerUnpause resumes a paused container VM.
func (b *Backend) ContainerUnpause(ctx context.Context, name string) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	if c.Status.State != compute.StateRunning || !c.Status.Paused {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", c.Spec.ID))
	}
	if err := b.pl.Unpause(ctx, c.Spec.ID); err != nil {
		return err
	}
	b.event(c.Spec.ID, m, events.ActionUnPause, nil)
	return nil
}

func containerPaused(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is paused, unpause the container before exec", id))
}
