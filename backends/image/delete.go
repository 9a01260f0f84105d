package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/image"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// Conflict kinds, as docker checks them before deleting an image.
const (
	conflictRunning = 1 << iota // hard: a running container uses the image
	conflictRefs                // soft: other tags or digests still name it
	conflictStopped             // soft: a stopped container uses it
	conflictChild               // hard: a committed image was made from it

	conflictHard = conflictRunning | conflictChild
	conflictSoft = conflictRefs | conflictStopped
)

// deleteConflict is docker's image delete conflict.
type deleteConflict struct {
	id   string
	hard bool
	used bool // the conflict is a container using the image
	// children: the image has dependent child images (so not dangling)
	children bool
	msg      string
}

func (c *deleteConflict) err() error {
	force := "must be forced"
	if c.hard {
		force = "cannot be forced"
	}
	return errdefs.Conflict(fmt.Sprintf("conflict: unable to delete %s (%s) - %s", ShortID(c.id), force, c.msg))
}

// checkConflict looks for the conflicts selected by mask.
func (b *Backend) checkConflict(ctx context.Context, id string, mask int) (*deleteConflict, error) {
	if mask&conflictChild != 0 {
		children, err := b.hasChildren(ctx, id)
		if err != nil {
			return nil, err
		}
		if children {
			return &deleteConflict{id: id, hard: true, children: true, msg: "image has dependent child images"}, nil
		}
	}
	running, stopped, err := b.users(ctx, id)
	if err != nil {
		return nil, err
	}
	if mask&conflictRunning != 0 && len(running) > 0 {
		return &deleteConflict{id: id, hard: true, used: true, msg: "image is being used by running container " + ShortID(running[0])}, nil
	}
	if mask&conflictRefs != 0 && len(b.refs.References(id)) > 0 {
		return &deleteConflict{id: id, msg: "image is referenced in multiple repositories"}, nil
	}
	if mask&conflictStopped != 0 && len(stopped) > 0 {
		return &deleteConflict{id: id, used: true, msg: "image is being used by stopped container " + ShortID(stopped[0])}, nil
	}
	return nil, nil
}

// hasChildren reports whether an image records id as its parent.
func (b *Backend) hasChildren(ctx context.Context, id string) (bool, error) {
	all, err := b.store.List(ctx)
	if err != nil {
		return false, fmt.Errorf("list images: %w", err)
	}
	for _, img := range all {
		if img.Parent == id {
			return true, nil
		}
	}
	return false, nil
}

// isIDPrefix reports whether s names the image by (a prefix of) its ID.
func isIDPrefix(id, s string) bool {
	return strings.HasPrefix(id, s) || strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), s)
}

// singleReference reports whether refs are one tag, possibly with digests
// of the same repository (docker then treats them as one name).
func singleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single reference.Named
	canonical := map[string]bool{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = true
		} else if single == nil {
			single = r
		} else {
			return false
		}
	}
	if single == nil {
		single = refs[0]
	}
	return len(canonical) == 1 && canonical[single.Name()]
}

func (b *Backend) untag(ref reference.Named, records *[]image.DeleteResponse) error {
	if err := b.refs.Delete(ref); err != nil {
		return err
	}
	*records = append(*records, image.DeleteResponse{Untagged: reference.FamiliarString(reference.TagNameOnly(ref))})
	return nil
}

// ImageDelete is docker rmi: by tag it untags (and deletes the image when
// no name is left), by ID it deletes, with docker's conflict rules. Each
// untag and the delete are logged as events.
func (b *Backend) ImageDelete(ctx context.Context, name string, force, _ bool) ([]image.DeleteResponse, error) {
	img, err := b.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	records, err := b.imageDelete(ctx, img, name, force)
	for _, r := range records {
		switch {
		case r.Untagged != "":
			b.event(events.ActionUnTag, img.ID, img.ID)
		case r.Deleted != "":
			b.event(events.ActionDelete, img.ID, img.ID)
		}
	}
	return records, err
}

func (b *Backend) imageDelete(ctx context.Context, img storage.Image, name string, force bool) ([]image.DeleteResponse, error) {
	records := []image.DeleteResponse{}
	refs := b.refs.References(img.ID)
	untaggedLast := false

	if !isIDPrefix(img.ID, name) {
		if !force && singleReference(refs) {
			running, stopped, err := b.users(ctx, img.ID)
			if err != nil {
				return nil, err
			}
			if users := append(running, stopped...); len(users) > 0 {
				return nil, errdefs.Conflict(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", name, ShortID(users[0]), ShortID(img.ID)))
			}
		}
		ref, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return nil, errdefs.InvalidParameter(err.Error())
		}
		ref = reference.TagNameOnly(ref)
		if err := b.untag(ref, &records); err != nil {
			return nil, err
		}
		refs = b.refs.References(img.ID)
		// A tag removed with no other tag of its repository left takes
		// that repository's digests with it.
		if _, canonical := ref.(reference.Canonical); !canonical {
			tagLeft := false
			for _, r := range refs {
				if _, c := r.(reference.Canonical); !c && r.Name() == ref.Name() {
					tagLeft = true
				}
			}
			if !tagLeft {
				var remaining []reference.Named
				for _, r := range refs {
					if _, c := r.(reference.Canonical); c && r.Name() == ref.Name() {
						if err := b.untag(r, &records); err != nil {
							return records, err
						}
					} else {
						remaining = append(remaining, r)
					}
				}
				refs = remaining
			}
		}
		if len(refs) > 0 {
			return records, nil
		}
		untaggedLast = true
	} else if singleReference(refs) {
		mask := conflictHard
		if !force {
			mask |= conflictSoft &^ conflictRefs
		}
		c, err := b.checkConflict(ctx, img.ID, mask)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return nil, c.err()
		}
		for _, r := range refs {
			if err := b.untag(r, &records); err != nil {
				return nil, err
			}
		}
	}

	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	c, err := b.checkConflict(ctx, img.ID, mask)
	if err != nil {
		return nil, err
	}
	if c != nil {
		// As docker's: an image with children is not dangling.
		dangling := len(b.refs.References(img.ID)) == 0 && !c.children
		if untaggedLast && (!dangling || c.used) {
			return records, nil // the untag was the request; the image stays
		}
		return nil, c.err()
	}
	for _, r := range b.refs.References(img.ID) {
		if err := b.untag(r, &records); err != nil {
			return nil, err
		}
	}
	if err := b.store.Remove(ctx, img.ID); err != nil {
		return nil, err
	}
	records = append(records, image.DeleteResponse{Deleted: img.ID})
	return records, nil
}
