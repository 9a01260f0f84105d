package system

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
)

// DiskUsageSources list what docker system df shows; each is optional.
type DiskUsageSources struct {
	Images     func(ctx context.Context) ([]image.Summary, error)
	Containers func(ctx context.Context) ([]container.Summary, error) // all, with their mounts
	Volumes    func(ctx context.Context) ([]*volume.Volume, error)
}

// SystemDiskUsage answers docker system df: images (layers shared by
// image, counted once per image), containers and volumes with how many
// containers use each. Sizes the VCH does not measure (a container's
// writable layer, a volume's blocks in use) are -1, which the CLI shows as
// N/A.
func (b *Backend) SystemDiskUsage(ctx context.Context) (*types.DiskUsage, error) {
	du := &types.DiskUsage{Images: []*image.Summary{}, Containers: []*container.Summary{}, Volumes: []*volume.Volume{}, BuildCache: []*build.CacheRecord{}}
	src := b.cfg.DiskUsage
	if src.Images != nil {
		imgs, err := src.Images(ctx)
		if err != nil {
			return nil, err
		}
		for i := range imgs {
			du.LayersSize += imgs[i].Size
			du.Images = append(du.Images, &imgs[i])
		}
	}
	refs := map[string]int64{}
	if src.Containers != nil {
		cs, err := src.Containers(ctx)
		if err != nil {
			return nil, err
		}
		for i := range cs {
			c := &cs[i]
			c.SizeRw, c.SizeRootFs = -1, -1
			for _, m := range c.Mounts {
				if m.Name != "" {
					refs[m.Name]++
				}
			}
			du.Containers = append(du.Containers, c)
		}
	}
	if src.Volumes != nil {
		vols, err := src.Volumes(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vols {
			v.UsageData = &volume.UsageData{RefCount: refs[v.Name], Size: -1}
			du.Volumes = append(du.Volumes, v)
		}
	}
	return du, nil
}

// SetDiskUsage sets the sources of system df (they are built after the
// system backend's peers).
func (b *Backend) SetDiskUsage(src DiskUsageSources) { b.cfg.DiskUsage = src }
