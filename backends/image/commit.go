package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// CommitRequest is an image to make from a container (docker commit).
type CommitRequest struct {
	Parent string            // the ID of the container's image
	Layer  io.Reader         // the container's changes, an OCI layer tar
	Config *container.Config // the new image's config (merged and changed)
	// ContainerConfig is the container's own config (the image config's
	// container_config, docker inspect's ContainerConfig).
	ContainerConfig *container.Config
	ContainerID     string
	// CreatedBy is the history entry's created_by: the container's
	// command, as dockerd writes it.
	CreatedBy string
	Author    string
	Comment   string
	Repo, Tag string // "" repo: the image is not tagged
	Created   time.Time
}

// CheckCommitRef checks repo and tag as docker commit does before any
// work (400 with docker's text).
func (b *Backend) CheckCommitRef(repo, tag string) error {
	if repo == "" {
		if tag != "" {
			return errdefs.InvalidParameter("invalid reference format")
		}
		return nil
	}
	ref, err := repoTag(repo, tag)
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	if reference.FamiliarName(ref) == "sha256" {
		return errdefs.InvalidParameter("refusing to create an ambiguous tag using digest algorithm as name")
	}
	return nil
}

// CommitImage stores the new image and tags it; it returns the image ID.
func (b *Backend) CommitImage(ctx context.Context, req CommitRequest) (string, error) {
	if err := b.CheckCommitRef(req.Repo, req.Tag); err != nil {
		return "", err
	}
	committer, ok := b.store.(storage.Committer)
	if !ok {
		return "", errdefs.NotImplemented("commit is not supported by this VCH's image store")
	}
	parent, err := b.store.Get(ctx, req.Parent)
	if err != nil {
		return "", err
	}
	img, err := committer.Commit(ctx, storage.CommitOptions{
		Parent: parent.ID,
		Layer:  req.Layer,
		Config: func(diffID string) ([]byte, error) { return commitConfig(parent, req, diffID) },
	})
	if err != nil {
		return "", err
	}
	if req.Repo != "" {
		ref, err := repoTag(req.Repo, req.Tag)
		if err != nil {
			return "", errdefs.InvalidParameter(err.Error())
		}
		if err := b.refs.Add(ref, img.ID); err != nil {
			return "", err
		}
		b.event(events.ActionTag, img.ID, reference.FamiliarString(ref))
	}
	return img.ID, nil
}

// commitConfig is the new image's config JSON: the parent's, with the
// container's config, the new layer's diff ID and a history entry; fields
// vch does not know are kept.
func commitConfig(parent storage.Image, req CommitRequest, diffID string) ([]byte, error) {
	doc := map[string]any{}
	if len(parent.Config) > 0 {
		if err := json.Unmarshal(parent.Config, &doc); err != nil {
			return nil, fmt.Errorf("image %s: decode config: %w", parent.ID, err)
		}
	}
	pc, err := Config(parent)
	if err != nil {
		return nil, err
	}
	diffIDs := []string{}
	for _, d := range pc.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	if len(diffIDs) == 0 {
		for _, l := range parent.Layers {
			diffIDs = append(diffIDs, l.DiffID)
		}
	}
	created := req.Created.UTC().Format(time.RFC3339Nano)
	history := []any{}
	if h, ok := doc["history"].([]any); ok {
		history = h
	}
	entry := map[string]any{"created": created, "created_by": req.CreatedBy}
	if req.Author != "" {
		entry["author"] = req.Author
	}
	if req.Comment != "" {
		entry["comment"] = req.Comment
	}
	doc["history"] = append(history, entry)
	doc["rootfs"] = map[string]any{"type": "layers", "diff_ids": append(diffIDs, diffID)}
	doc["config"] = req.Config
	doc["container"] = req.ContainerID
	if req.ContainerConfig != nil {
		doc["container_config"] = req.ContainerConfig
	}
	doc["created"] = created
	delete(doc, "author")
	delete(doc, "comment")
	if req.Author != "" {
		doc["author"] = req.Author
	}
	if req.Comment != "" {
		doc["comment"] = req.Comment
	}
	if _, ok := doc["os"]; !ok {
		doc["os"] = "linux"
	}
	if _, ok := doc["architecture"]; !ok {
		doc["architecture"] = "amd64"
	}
	return json.Marshal(doc)
}
