package backends

import (
	"context"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	dvolume "github.com/docker/docker/api/types/volume"

	containerbackend "github.com/vchproject/vch/backends/container"
	imagebackend "github.com/vchproject/vch/backends/image"
	"github.com/vchproject/vch/backends/system"
	volumebackend "github.com/vchproject/vch/backends/volume"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
)

// diskUsageSources feeds docker system df from the other backends.
func diskUsageSources(images *imagebackend.Backend, containers *containerbackend.Backend, vols *volumebackend.Backend) system.DiskUsageSources {
	src := system.DiskUsageSources{
		Images: func(ctx context.Context) ([]image.Summary, error) {
			return images.Images(ctx, false, filters.NewArgs())
		},
		Containers: func(ctx context.Context) ([]container.Summary, error) {
			return containers.Containers(ctx, containerrouter.ListConfig{All: true, Filters: filters.NewArgs()})
		},
	}
	if vols != nil {
		src.Volumes = func(ctx context.Context) ([]*dvolume.Volume, error) {
			return vols.VolumeList(ctx, filters.NewArgs())
		}
	}
	return src
}
