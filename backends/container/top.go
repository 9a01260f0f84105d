package container

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// ContainerTop lists the processes in the container VM, as ps with psArgs
// (docker's default -ef) would inside it.
func (b *Backend) ContainerTop(ctx context.Context, name, psArgs string) (*container.TopResponse, error) {
	c, _, err := b.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if c.Status.State != compute.StateRunning {
		return nil, errdefs.Conflict(fmt.Sprintf("Container %s is not running", c.Spec.ID))
	}
	if c.Status.Paused {
		return nil, errdefs.Conflict(fmt.Sprintf("Container %s is paused, unpause the container before top", c.Spec.ID))
	}
	res, err := b.pl.Top(ctx, c.Spec.ID, strings.Fields(psArgs))
	if err != nil {
		return nil, err
	}
	return &container.TopResponse{Titles: res.Titles, Processes: res.Processes}, nil
}
