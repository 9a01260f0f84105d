package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/jsonmessage"
	"go.uber.org/zap"

	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// PushImage pushes name:tag, or every tag of name when tag is empty
// (docker push --all-tags), with docker's progress stream: "The push
// refers to repository [...]", the layers, then "TAG: digest: D size: N"
// and the aux message the CLI reads the digest from.
func (b *Backend) PushImage(ctx context.Context, cfg imagerouter.PushConfig) error {
	named, err := reference.ParseNormalizedNamed(cfg.Name)
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidParameter("cannot push a digest reference")
	}
	repo := reference.TrimNamed(named)
	var refs []reference.NamedTagged
	tag := cfg.Tag
	if t, ok := named.(reference.NamedTagged); ok && tag == "" {
		tag = t.Tag()
	}
	if tag != "" {
		r, err := reference.WithTag(repo, tag)
		if err != nil {
			return errdefs.InvalidParameter(err.Error())
		}
		refs = []reference.NamedTagged{r}
	} else {
		refs = b.refs.Tags(repo)
	}
	if len(refs) == 0 {
		return errdefs.NotFound("An image does not exist locally with the tag: " + reference.FamiliarName(repo))
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		id, ok := b.refs.Get(r)
		if !ok {
			return errdefs.NotFound("An image does not exist locally with the tag: " + reference.FamiliarString(r))
		}
		ids[i] = id
	}

	out := &progressStream{w: cfg.Output}
	out.status("", "The push refers to repository ["+repo.String()+"]")
	var auth *storage.Auth
	if a := cfg.Auth; a != nil {
		auth = &storage.Auth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
	}
	var mu sync.Mutex
	for i, r := range refs {
		res, err := b.store.Push(ctx, r.String(), ids[i], storage.PushOptions{
			Auth: auth,
			Progress: func(p storage.Progress) {
				mu.Lock()
				defer mu.Unlock()
				if p.Status == "Pushing" {
					out.layer(p.ID, p.Status, p.Current, p.Total)
					return
				}
				out.status(p.ID, p.Status)
			},
		})
		if errdefs.IsUnauthorized(err) {
			// As for pulls: a 401 would make the CLI prompt for credentials.
			return errors.New(err.Error())
		}
		if err != nil {
			return err
		}
		out.status("", fmt.Sprintf("%s: digest: %s size: %d", r.Tag(), res.Digest, res.Size))
		out.aux(types.PushResult{Tag: r.Tag(), Digest: res.Digest, Size: int(res.Size)})
		b.log.Info("pushed image", zap.String("ref", r.String()), zap.String("id", ids[i]), zap.String("digest", res.Digest))
		b.event(events.ActionPush, reference.FamiliarString(r), reference.FamiliarString(r))
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	return out.err
}

// aux sends an aux message (the push result the CLI prints and records).
func (p *progressStream) aux(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	raw := json.RawMessage(b)
	p.send(jsonmessage.JSONMessage{Aux: &raw})
}
