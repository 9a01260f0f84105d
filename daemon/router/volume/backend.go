// Package volume serves the Docker Engine API's /volumes routes.
package volume

import (
	"context"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
)

// Backend is everything the /volumes routes need.
type Backend interface {
	VolumeList(ctx context.Context, f filters.Args) ([]*volume.Volume, error)
	VolumeInspect(ctx context.Context, name string) (*volume.Volume, error)
	VolumeCreate(ctx context.Context, opts volume.CreateOptions) (*volume.Volume, error)
	// VolumeRemove deletes a volume; force ignores a missing one.
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumePrune(ctx context.Context, f filters.Args) (*volume.PruneReport, error)
}
