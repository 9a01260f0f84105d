package image

import (
	"context"
	"errors"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// downloadStatuses are the per-layer statuses that mean bytes were fetched.
var downloadStatuses = map[string]bool{
	"Downloading": true, "Download complete": true, "Extracting": true, "Pull complete": true,
}

// pullRef turns fromImage and tag into the reference to pull.
func pullRef(image, tag string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return nil, errdefs.InvalidParameter(err.Error())
	}
	if tag != "" {
		if dg, err := digest.Parse(tag); err == nil {
			ref, err = reference.WithDigest(reference.TrimNamed(ref), dg)
			if err != nil {
				return nil, errdefs.InvalidParameter(err.Error())
			}
		} else {
			ref, err = reference.WithTag(ref, tag)
			if err != nil {
				return nil, errdefs.InvalidParameter(err.Error())
			}
		}
	}
	return reference.TagNameOnly(ref), nil
}

// PullImage pulls through the port layer and records the tag. Nothing is
// written to cfg.Output before the first layer reports progress, so an
// unknown repository or tag comes back as a plain error (an HTTP status).
func (b *Backend) PullImage(ctx context.Context, cfg imagerouter.PullConfig) error {
	ref, err := pullRef(cfg.Image, cfg.Tag)
	if err != nil {
		return err
	}
	tagOrDigest := ""
	if c, ok := ref.(reference.Canonical); ok {
		tagOrDigest = c.String()
	} else if t, ok := ref.(reference.Tagged); ok {
		tagOrDigest = t.Tag()
	}
	out := &progressStream{w: cfg.Output}
	var (
		once       sync.Once
		mu         sync.Mutex
		downloaded bool
	)
	header := func() { out.status(tagOrDigest, "Pulling from "+reference.Path(ref)) }
	opts := storage.PullOptions{
		Platform: cfg.Platform,
		Progress: func(p storage.Progress) {
			once.Do(header)
			if p.ID == "" {
				out.status("", p.Status)
				return
			}
			if downloadStatuses[p.Status] {
				mu.Lock()
				downloaded = true
				mu.Unlock()
			}
			out.layer(p.ID, p.Status, p.Current, p.Total)
		},
	}
	if a := cfg.Auth; a != nil {
		opts.Auth = &storage.Auth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	}
	img, err := b.store.Pull(ctx, ref.String(), opts)
	if errdefs.IsUnauthorized(err) {
		// Not a 401 of ours: the CLI answers a 401 to a pull by prompting
		// for credentials on its terminal (and, without one, waits
		// forever). The registry's refusal is reported as an error with
		// its text, as dockerd does; docker login is the way to fix it.
		return errors.New(err.Error())
	}
	if err != nil {
		return err
	}
	once.Do(header)
	if img.ManifestDigest != "" {
		out.status("", "Digest: "+img.ManifestDigest)
	}
	old, had := b.refs.Get(ref)
	if err := b.refs.Add(ref, img.ID); err != nil {
		return err
	}
	if dg, err := digest.Parse(img.ManifestDigest); err == nil {
		if c, err := reference.WithDigest(reference.TrimNamed(ref), dg); err == nil {
			if err := b.refs.Add(c, img.ID); err != nil {
				return err
			}
		}
	}
	mu.Lock()
	newer := downloaded || !had || old != img.ID
	mu.Unlock()
	if newer {
		out.status("", "Status: Downloaded newer image for "+reference.FamiliarString(ref))
	} else {
		out.status("", "Status: Image is up to date for "+reference.FamiliarString(ref))
	}
	b.log.Info("pulled image", zap.String("ref", ref.String()), zap.String("id", img.ID), zap.Bool("newer", newer))
	b.event(events.ActionPull, reference.FamiliarString(ref), reference.FamiliarString(ref))
	out.mu.Lock()
	defer out.mu.Unlock()
	return out.err
}
