package image

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"go.uber.org/zap"

	refstore "github.com/vchproject/vch/backends/reference"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/storage"
)

// Backend implements the daemon's image.Backend.
type Backend struct {
	store      storage.Store
	refs       *refstore.Store
	containers compute.Inspector
	log        *zap.Logger
	events     EventLogger
}

// EventLogger records docker events (backends/events implements it).
type EventLogger interface {
	Log(typ events.Type, action events.Action, actor events.Actor)
}

type noEvents struct{}

func (noEvents) Log(events.Type, events.Action, events.Actor) {}

// SetEvents makes the backend log image events (pull, push, tag, untag,
// delete) to l.
func (b *Backend) SetEvents(l EventLogger) { b.events = l }

// event logs an image event as dockerd does: the actor is id, "name" is
// the reference concerned.
func (b *Backend) event(action events.Action, id, name string) {
	b.events.Log(events.ImageEventType, action, events.Actor{ID: id, Attributes: map[string]string{"name": name}})
}

var _ imagerouter.Backend = (*Backend)(nil)

// New returns the image backend.
func New(store storage.Store, refs *refstore.Store, containers compute.Inspector, log *zap.Logger) *Backend {
	if log == nil {
		log = zap.NewNop()
	}
	return &Backend{store: store, refs: refs, containers: containers, log: log, events: noEvents{}}
}

// Refs returns the tag store the backend uses.
func (b *Backend) Refs() *refstore.Store { return b.refs }

// Config decodes an image's config JSON (docker and OCI configs share it).
func Config(img storage.Image) (*dockerspec.DockerOCIImage, error) {
	var c dockerspec.DockerOCIImage
	if len(img.Config) == 0 {
		return &c, nil
	}
	if err := json.Unmarshal(img.Config, &c); err != nil {
		return nil, fmt.Errorf("image %s: decode config: %w", img.ID, err)
	}
	return &c, nil
}

// ShortID is docker's 12-digit form of an ID, without "sha256:".
func ShortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// notFound is docker's "No such image" with the reference as docker
// prints it (a bare name gains ":latest").
func notFound(ref reference.Reference) error {
	s := ref.String()
	if n, ok := ref.(reference.Named); ok {
		s = reference.FamiliarString(reference.TagNameOnly(n))
	}
	return errdefs.NotFound("No such image: " + s)
}

// Resolve finds the image a user meant: a tag or digest reference from the
// tag store, a full ID, or a unique ID prefix (docker's order).
func (b *Backend) Resolve(ctx context.Context, refOrID string) (storage.Image, error) {
	ref, err := reference.ParseAnyReference(refOrID)
	if err != nil {
		return storage.Image{}, errdefs.InvalidParameter(err.Error())
	}
	named, ok := ref.(reference.Named)
	if !ok {
		dg, ok := ref.(reference.Digested)
		if !ok {
			return storage.Image{}, notFound(ref)
		}
		img, err := b.store.Get(ctx, dg.Digest().String())
		if errdefs.IsNotFound(err) {
			return storage.Image{}, notFound(ref)
		}
		return img, err
	}
	if id, ok := b.refs.Get(named); ok {
		img, err := b.store.Get(ctx, id)
		if err == nil {
			return img, nil
		}
		if !errdefs.IsNotFound(err) {
			return storage.Image{}, err
		}
	}
	img, found, err := b.byPrefix(ctx, refOrID)
	if err != nil {
		return storage.Image{}, err
	}
	if !found {
		return storage.Image{}, notFound(ref)
	}
	return img, nil
}

// byPrefix looks refOrID up as a unique prefix of an image ID.
func (b *Backend) byPrefix(ctx context.Context, s string) (storage.Image, bool, error) {
	s = strings.TrimPrefix(s, "sha256:")
	if s == "" || strings.Trim(s, "0123456789abcdef") != "" {
		return storage.Image{}, false, nil
	}
	all, err := b.store.List(ctx)
	if err != nil {
		return storage.Image{}, false, err
	}
	var match []storage.Image
	for _, img := range all {
		if strings.HasPrefix(strings.TrimPrefix(img.ID, "sha256:"), s) {
			match = append(match, img)
		}
	}
	if len(match) != 1 {
		return storage.Image{}, false, nil
	}
	return match[0], true, nil
}

// users lists the containers that boot img, running ones first.
func (b *Backend) users(ctx context.Context, id string) (running, stopped []string, err error) {
	cs, err := b.containers.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range cs {
		if c.Spec.Image != id {
			continue
		}
		if c.Status.State == compute.StateRunning {
			running = append(running, c.Spec.ID)
		} else {
			stopped = append(stopped, c.Spec.ID)
		}
	}
	return running, stopped, nil
}
