package image

import (
	"context"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"go.uber.org/zap"

	imgfilters "github.com/vchproject/vch/backends/filters"
	"github.com/vchproject/vch/errdefs"
)

// ImagesPrune removes images no container uses: only dangling (untagged)
// ones unless the filter dangling=false asks for all, selected further by
// until, label and label!, as docker image prune.
func (b *Backend) ImagesPrune(ctx context.Context, args filters.Args) (*image.PruneReport, error) {
	f, err := imgfilters.NewPruneFilter(args, time.Now(), "dangling")
	if err != nil {
		return nil, err
	}
	danglingOnly := true
	for _, v := range args.Get("dangling") {
		switch v {
		case "true", "1":
		case "false", "0":
			danglingOnly = false
		default:
			return nil, errdefs.InvalidParameter("invalid filter 'dangling=" + v + "'")
		}
	}
	all, err := b.store.List(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := b.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		used[c.Spec.Image] = true
	}
	rep := &image.PruneReport{ImagesDeleted: []image.DeleteResponse{}}
	for _, img := range all {
		if used[img.ID] || (danglingOnly && len(b.refs.References(img.ID)) > 0) {
			continue
		}
		cfg, err := Config(img)
		if err != nil || !f.Match(img.Created, cfg.Config.Labels) {
			continue
		}
		records, err := b.ImageDelete(ctx, img.ID, true, false)
		if err != nil {
			b.log.Warn("prune: delete image", zap.String("id", img.ID), zap.Error(err))
			continue
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, records...)
		rep.SpaceReclaimed += uint64(img.Size)
	}
	b.events.Log(events.ImageEventType, events.ActionPrune, events.Actor{Attributes: map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)}})
	return rep, nil
}
