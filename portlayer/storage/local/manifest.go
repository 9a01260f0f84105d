package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/vchproject/vch/errdefs"
)

// fetchManifest walks from the resolved descriptor (a manifest, or an index
// or manifest list) to the one image manifest for platform ("linux/amd64"
// if empty) with containerd's handlers: ChildrenHandler lists an index's
// manifests, FilterPlatforms and LimitManifests keep the best match, and
// Dispatch drives the walk. Every manifest and index read is stored in the
// content store. Layers and config are not fetched here.
//
// It returns the manifest's descriptor, the manifest, its bytes and the
// digests of the indexes walked.
func (s *Store) fetchManifest(ctx context.Context, f remotes.Fetcher, root ocispec.Descriptor, platform string) (walked, error) {
	if platform == "" {
		platform = "linux/amd64"
	}
	want, err := platforms.Parse(platform)
	if err != nil {
		return walked{}, errdefs.InvalidParameter(fmt.Sprintf("invalid platform %q: %v", platform, err))
	}
	match := platforms.Only(want)
	indexChildren := images.LimitManifests(images.FilterPlatforms(images.ChildrenHandler(s.content), match), match, 1)

	var (
		mu      sync.Mutex
		chosen  *ocispec.Descriptor
		body    []byte
		indexes []string
	)
	walk := images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		switch {
		case images.IsIndexType(desc.MediaType):
			if _, err := s.fetchSmall(ctx, f, desc); err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
			mu.Lock()
			indexes = append(indexes, desc.Digest.String())
			mu.Unlock()
			children, err := indexChildren(ctx, desc)
			if isNotFound(err) {
				return nil, errdefs.NotFound(fmt.Sprintf("no matching manifest for %s in the manifest list entries", platforms.Format(want)))
			}
			return children, err
		case images.IsManifestType(desc.MediaType):
			b, err := s.fetchSmall(ctx, f, desc)
			if err != nil {
				return nil, fmt.Errorf("manifest: %w", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if chosen == nil {
				d := desc
				chosen, body = &d, b
			}
			return nil, nil
		default:
			return nil, errdefs.InvalidParameter(fmt.Sprintf("unsupported manifest media type %s", desc.MediaType))
		}
	})
	if err := images.Dispatch(ctx, walk, nil, root); err != nil {
		return walked{}, err
	}
	if chosen == nil {
		return walked{}, errors.New("manifest: the walk found no image manifest")
	}
	w := walked{desc: *chosen, raw: body, indexes: indexes}
	if err := json.Unmarshal(body, &w.manifest); err != nil {
		return walked{}, fmt.Errorf("decode manifest %s: %w", chosen.Digest, err)
	}
	return w, nil
}

// walked is what fetchManifest found.
type walked struct {
	desc     ocispec.Descriptor // the image manifest's
	manifest ocispec.Manifest
	raw      []byte   // the manifest as fetched
	indexes  []string // digests of the indexes walked to it
}
