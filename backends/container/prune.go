package container

import (
	"context"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	dfilters "github.com/docker/docker/api/types/filters"
	"go.uber.org/zap"

	"github.com/vchproject/vch/backends/filters"
	"github.com/vchproject/vch/portlayer/compute"
)

// ContainersPrune removes every stopped container that the filters (until,
// label, label!) select, as docker container prune; volumes stay.
func (b *Backend) ContainersPrune(ctx context.Context, args dfilters.Args) (*container.PruneReport, error) {
	f, err := filters.NewPruneFilter(args, b.now())
	if err != nil {
		return nil, err
	}
	all, err := b.pl.List(ctx)
	if err != nil {
		return nil, err
	}
	rep := &container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range all {
		id := c.Spec.ID
		if c.Status.State == compute.StateRunning || b.isRestarting(id) {
			continue
		}
		m, err := decodeMeta(id, c.Spec.Meta)
		if err != nil || !f.Match(m.Created, m.Config.Labels) {
			continue
		}
		// SpaceReclaimed is the removed containers' writable layers, as
		// docker counts it (their SizeRw).
		sz, err := b.pl.Sizes(ctx, id)
		if err != nil {
			b.log.Debug("prune: container size", zap.String("id", id), zap.Error(err))
		}
		if err := b.removeContainer(ctx, id, false); err != nil {
			b.log.Warn("prune: remove container", zap.String("id", id), zap.Error(err))
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, id)
		if sz.RW > 0 {
			rep.SpaceReclaimed += uint64(sz.RW)
		}
	}
	b.events.Log(events.ContainerEventType, events.ActionPrune, events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)}})
	return rep, nil
}
