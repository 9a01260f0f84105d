package image

import (
	"context"
	"encoding/json"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/storage"
)

// Driver is the storage driver name vch reports (images are ext4 disks
// shared read-only by container VMs).
const Driver = "vch"

// ImageInspect answers docker image inspect.
func (b *Backend) ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error) {
	img, err := b.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	cfg, err := Config(img)
	if err != nil {
		return nil, err
	}
	tags, digests := []string{}, []string{}
	for _, ref := range b.refs.References(img.ID) {
		if _, ok := ref.(reference.Canonical); ok {
			digests = append(digests, reference.FamiliarString(ref))
		}
		if _, ok := ref.(reference.NamedTagged); ok {
			tags = append(tags, reference.FamiliarString(ref))
		}
	}
	created := img.Created
	if cfg.Created != nil {
		created = *cfg.Created
	}
	layers := []string{}
	for _, d := range cfg.RootFS.DiffIDs {
		layers = append(layers, d.String())
	}
	if len(layers) == 0 {
		for _, l := range img.Layers {
			layers = append(layers, l.DiffID)
		}
	}
	resp := &image.InspectResponse{
		ID: img.ID,
		//lint:ignore SA1019 docker inspect of a committed image shows it (API ≤ 1.45)
		Parent:       img.Parent,
		RepoTags:     tags,
		RepoDigests:  digests,
		Author:       cfg.Author,
		Config:       &cfg.Config,
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		OsVersion:    cfg.OSVersion,
		Size:         img.Size,
		GraphDriver:  storage.DriverData{Name: Driver, Data: map[string]string{}},
		RootFS:       image.RootFS{Type: "layers", Layers: layers},
	}
	if !created.IsZero() {
		resp.Created = created.UTC().Format(time.RFC3339Nano)
	}
	// A committed image names its container and that container's config.
	var extra struct {
		Container       string            `json:"container"`
		ContainerConfig *container.Config `json:"container_config"`
	}
	if len(img.Config) > 0 && json.Unmarshal(img.Config, &extra) == nil {
		//lint:ignore SA1019 docker inspect of a committed image shows it (API ≤ 1.45)
		resp.Container = extra.Container
		if extra.ContainerConfig != nil {
			//lint:ignore SA1019 as above
			resp.ContainerConfig = extra.ContainerConfig
		}
	}
	if n := len(cfg.History); n > 0 {
		resp.Comment = cfg.History[n-1].Comment
	}
	return resp, nil
}
