package local

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// Push uploads image id to ref with containerd's pusher: each layer and
// the config unless the registry has it (containerd asks first), then the
// manifest the image was pulled with, byte for byte, so its digest is the
// one the registry reports. The image's blobs are held against Remove
// while it runs.
func (s *Store) Push(ctx context.Context, ref, id string, opts storage.PushOptions) (storage.PushResult, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return storage.PushResult{}, errdefs.InvalidParameter(fmt.Sprintf("invalid reference format: %s", ref))
	}
	named = reference.TagNameOnly(named)
	if err := s.opts.policy.allowed(reference.Domain(named)); err != nil {
		return storage.PushResult{}, err
	}
	rec, err := s.readRecord(id)
	if err != nil {
		return storage.PushResult{}, err
	}
	var keys []string
	for _, b := range rec.blobs() {
		keys = append(keys, b.String())
	}
	defer s.hold(keys...)()
	report := opts.Progress
	if report == nil {
		report = func(storage.Progress) {}
	}
	ctx = s.withContainerdLog(ctx)

	mdesc := ocispec.Descriptor{Digest: digest.Digest(rec.ManifestDigest)}
	mb, err := content.ReadBlob(ctx, s.content, mdesc)
	if err != nil {
		return storage.PushResult{}, fmt.Errorf("image %s: manifest: %w", id, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return storage.PushResult{}, fmt.Errorf("image %s: manifest: %w", id, err)
	}
	mdesc.Size = int64(len(mb))
	mdesc.MediaType = m.MediaType
	if mdesc.MediaType == "" {
		mdesc.MediaType = ocispec.MediaTypeImageManifest
	}
	if len(m.Layers) != len(rec.Layers) {
		return storage.PushResult{}, fmt.Errorf("image %s: manifest has %d layers, the image %d", id, len(m.Layers), len(rec.Layers))
	}

	// Blobs the registry holds in another repository are mounted from
	// there (containerd reads the candidates from these annotations) and
	// the tracker tells which were.
	host, repo := reference.Domain(named), reference.Path(named)
	if repos := rec.Sources[host]; len(repos) > 0 {
		// containerd keys the annotation by the host name without the port.
		hostname := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			hostname = h
		}
		src := map[string]string{distributionSource + hostname: strings.Join(repos, ",")}
		for i := range m.Layers {
			m.Layers[i].Annotations = src
		}
		m.Config.Annotations = src
	}
	tracker := docker.NewInMemoryTracker()
	pusher, err := s.resolverTracked(opts.Auth, tracker).Pusher(ctx, named.String())
	if err != nil {
		return storage.PushResult{}, registryError("push "+named.String(), err)
	}
	for i := range rec.Layers {
		report(storage.Progress{ID: shortDiffID(rec.Layers[i].DiffID), Status: "Preparing"})
	}
	for i := len(m.Layers) - 1; i >= 0; i-- {
		if err := s.pushBlob(ctx, pusher, tracker, opts.Auth, m.Layers[i], shortDiffID(rec.Layers[i].DiffID), report); err != nil {
			return storage.PushResult{}, err
		}
	}
	if err := s.pushBlob(ctx, pusher, tracker, opts.Auth, m.Config, "", report); err != nil {
		return storage.PushResult{}, err
	}
	if err := pushBytes(ctx, pusher, mdesc, mb); err != nil {
		return storage.PushResult{}, authError("push manifest of "+named.String(), opts.Auth, err)
	}
	s.addSource(id, host, repo)
	s.log.Info("pushed image", zap.String("ref", named.String()), zap.String("id", id), zap.String("digest", mdesc.Digest.String()))
	return storage.PushResult{Digest: mdesc.Digest.String(), Size: mdesc.Size}, nil
}

// distributionSource prefixes the annotation, per registry host, that
// lists the repositories holding a blob (containerd's
// labels.LabelDistributionSource).
const distributionSource = "containerd.io/distribution.source."

// shortDiffID is how docker names a layer in push progress.
func shortDiffID(d string) string {
	if dg, err := digest.Parse(d); err == nil {
		return shortID(dg)
	}
	return d
}

// pushBlob uploads one blob from the content store; progress goes to
// report under id (none if id is empty: the config).
func (s *Store) pushBlob(ctx context.Context, p remotes.Pusher, tracker docker.StatusTracker, auth *storage.Auth, desc ocispec.Descriptor, id string, report func(storage.Progress)) error {
	send := func(status string, cur int64) {
		if id != "" {
			report(storage.Progress{ID: id, Status: status, Current: cur, Total: desc.Size})
		}
	}
	w, err := p.Push(ctx, desc)
	if cerrdefs.IsAlreadyExists(err) {
		if st, serr := tracker.GetStatus(remotes.MakeRefKey(ctx, desc)); serr == nil && st.MountedFrom != "" {
			// docker names the repository without the registry host.
			_, from, _ := strings.Cut(st.MountedFrom, "/")
			send("Mounted from "+from, 0)
			return nil
		}
		send("Layer already exists", 0)
		return nil
	}
	if err != nil {
		return authError("push blob "+desc.Digest.String(), auth, err)
	}
	defer w.Close()
	ra, err := s.content.ReaderAt(ctx, desc)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	send("Pushing", 0)
	r := &progressReader{r: io.NewSectionReader(ra, 0, desc.Size), total: desc.Size, report: func(n int64) { send("Pushing", n) }}
	if _, err := io.Copy(w, r); err != nil {
		return authError("push blob "+desc.Digest.String(), auth, err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !cerrdefs.IsAlreadyExists(err) {
		return authError("push blob "+desc.Digest.String(), auth, err)
	}
	send("Pushed", desc.Size)
	return nil
}

// pushBytes uploads b as desc (the manifest).
func pushBytes(ctx context.Context, p remotes.Pusher, desc ocispec.Descriptor, b []byte) error {
	w, err := p.Push(ctx, desc)
	if cerrdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		return err
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !cerrdefs.IsAlreadyExists(err) {
		return err
	}
	return nil
}
