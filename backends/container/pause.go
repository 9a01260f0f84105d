package container

import (
	"context"
	"fmt"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// ContainerPause stops the container VM's vCPUs.
func (b *Backend) ContainerPause(ctx context.Context, name string) error {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	if c.Status.State != compute.StateRunning {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not running", c.Spec.ID))
	}
	if c.Status.Paused {
		return errdefs.Conflict(fmt.Sprintf("Container %s is already paused", c.Spec.ID))
	}
	return b.pl.Pause(ctx, c.Spec.ID)
}

// ContainerUnpause resumes a paused container VM.
func (b *Backend) ContainerUnpause(ctx context.Context, name string) error {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	if c.Status.State != compute.StateRunning || !c.Status.Paused {
		return errdefs.Conflict(fmt.Sprintf("Container %s is not paused", c.Spec.ID))
	}
	return b.pl.Unpause(ctx, c.Spec.ID)
}

func containerPaused(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is paused, unpause the container before exec", id))
}
