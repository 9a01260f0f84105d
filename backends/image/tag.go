package image

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/opencontainers/go-digest"

	"github.com/vchproject/vch/errdefs"
)

// repoTag is docker's parsing of POST /images/{name}/tag?repo=&tag=.
func repoTag(repo, tag string) (reference.NamedTagged, error) {
	if repo == "" {
		return nil, errors.New("repository name must have at least one component")
	}
	ref, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, err
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil, errors.New("cannot import digest reference")
	}
	if tag != "" {
		return reference.WithTag(ref, tag)
	}
	nt, ok := reference.TagNameOnly(ref).(reference.NamedTagged)
	if !ok {
		return nil, fmt.Errorf("unexpected reference: %q", ref.String())
	}
	return nt, nil
}

// TagImage points repo:tag at the image source names.
func (b *Backend) TagImage(ctx context.Context, source, repo, tag string) error {
	ref, err := repoTag(repo, tag)
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	if reference.FamiliarName(ref) == string(digest.Canonical) {
		return errdefs.InvalidParameter("refusing to create an ambiguous tag using digest algorithm as name")
	}
	img, err := b.Resolve(ctx, source)
	if err != nil {
		return err
	}
	if err := b.refs.Add(ref, img.ID); err != nil {
		return err
	}
	b.event(events.ActionTag, img.ID, reference.FamiliarString(ref))
	return nil
}
