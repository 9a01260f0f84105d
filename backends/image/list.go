package image

import (
	"context"
	"sort"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"

	imgfilters "github.com/vchproject/vch/backends/filters"
)

// Images lists images as docker does: newest first, tags and digests from
// the tag store, the number of containers (in any state) using each.
func (b *Backend) Images(ctx context.Context, _ bool, args filters.Args) ([]image.Summary, error) {
	created := func(ref string) (time.Time, error) {
		img, err := b.Resolve(ctx, ref)
		if err != nil {
			return time.Time{}, err
		}
		return img.Created, nil
	}
	f, err := imgfilters.NewImageFilter(args, created, time.Now())
	if err != nil {
		return nil, err
	}
	all, err := b.store.List(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := b.containers.List(ctx)
	if err != nil {
		return nil, err
	}
	uses := map[string]int64{}
	for _, c := range cs {
		uses[c.Spec.Image]++
	}
	out := []image.Summary{}
	for _, img := range all {
		cfg, err := Config(img)
		if err != nil {
			return nil, err
		}
		tags, digests, ok := f.Apply(imgfilters.Image{ID: img.ID, Created: img.Created, Labels: cfg.Config.Labels, Refs: b.refs.References(img.ID)})
		if !ok {
			continue
		}
		out = append(out, image.Summary{
			ID:          img.ID,
			ParentID:    img.Parent,
			RepoTags:    tags,
			RepoDigests: digests,
			Created:     img.Created.Unix(),
			Size:        img.Size,
			SharedSize:  -1,
			Containers:  uses[img.ID],
			Labels:      cfg.Config.Labels,
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created > out[j].Created })
	return out, nil
}
