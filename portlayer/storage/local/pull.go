package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/remotes"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// maxManifestSize bounds manifests, indexes and configs read into memory.
const maxManifestSize = 8 << 20

// downloadConcurrency is how many layers download at once, as in Docker.
const downloadConcurrency = 3

// Pull fetches ref into the store, unpacks it and returns the image.
func (s *Store) Pull(ctx context.Context, ref string, opts storage.PullOptions) (storage.Image, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return storage.Image{}, errdefs.InvalidParameter(fmt.Sprintf("invalid reference format: %s", ref))
	}
	named = reference.TagNameOnly(named)
	if err := s.opts.policy.allowed(reference.Domain(named)); err != nil {
		return storage.Image{}, err
	}
	ctx = s.withContainerdLog(ctx)
	refStr := named.String()
	progress := opts.Progress
	if progress == nil {
		progress = func(storage.Progress) {}
	}
	var pmu sync.Mutex
	report := func(p storage.Progress) { pmu.Lock(); progress(p); pmu.Unlock() }

	resolver := s.resolver(opts.Auth)
	name, desc, err := resolver.Resolve(ctx, refStr)
	if err != nil {
		if isNotFound(err) {
			return storage.Image{}, errdefs.NotFound(fmt.Sprintf("manifest for %s not found: manifest unknown: manifest unknown", reference.FamiliarString(named)))
		}
		return storage.Image{}, resolveError(reference.FamiliarString(named), opts.Auth, err)
	}
	// From here until the image is recorded, Remove must not sweep.
	releaseRoot := s.hold(desc.Digest.String())
	defer releaseRoot()
	fetcher, err := resolver.Fetcher(ctx, name)
	if err != nil {
		return storage.Image{}, fmt.Errorf("fetcher for %s: %w", name, err)
	}
	w, err := s.fetchManifest(ctx, fetcher, desc, opts.Platform)
	if err != nil {
		return storage.Image{}, err
	}
	manifestDesc, manifest := w.desc, w.manifest
	configBytes, err := s.fetchSmall(ctx, fetcher, manifest.Config)
	if err != nil {
		return storage.Image{}, fmt.Errorf("image config: %w", err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(configBytes, &cfg); err != nil {
		return storage.Image{}, fmt.Errorf("decode image config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(manifest.Layers) {
		return storage.Image{}, fmt.Errorf("image %s: %d layers but %d diff IDs", refStr, len(manifest.Layers), len(cfg.RootFS.DiffIDs))
	}
	layers := make([]storage.Layer, len(manifest.Layers))
	for i, l := range manifest.Layers {
		layers[i] = storage.Layer{Digest: l.Digest.String(), DiffID: cfg.RootFS.DiffIDs[i].String(), Size: l.Size, MediaType: l.MediaType}
	}

	id := manifest.Config.Digest.String()
	rec := record{Image: storage.Image{
		ID:             id,
		ManifestDigest: manifestDesc.Digest.String(),
		Config:         configBytes,
		Layers:         layers,
	}, Refs: w.indexes}
	held := []string{chainID(layers).String()}
	for _, d := range rec.blobs() {
		held = append(held, d.String())
	}
	release := s.hold(held...)
	defer release()
	// A Remove may have freed them between their fetch and the hold.
	if err := s.storeBlob(ctx, manifestDesc, w.raw); err != nil {
		return storage.Image{}, err
	}
	if err := s.storeBlob(ctx, manifest.Config, configBytes); err != nil {
		return storage.Image{}, err
	}
	if old, err := s.Get(ctx, id); err == nil && old.ManifestDigest == manifestDesc.Digest.String() {
		if s.prepared(layers) {
			s.addSource(id, reference.Domain(named), reference.Path(named))
			return old, nil // up to date: docker prints no layer lines
		}
	}
	downloadStart := time.Now()
	if err := s.fetchLayers(ctx, fetcher, manifest.Layers, report); err != nil {
		return storage.Image{}, err
	}
	unpackStart := time.Now()
	size, err := s.prepare(ctx, layers, report)
	if err != nil {
		return storage.Image{}, err
	}
	rec.Size, rec.Pulled = size, time.Now().UTC()
	if cfg.Created != nil {
		rec.Created = *cfg.Created
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, err := s.readRecord(id); err == nil {
		rec.Pulled = old.Pulled
		rec.Refs = union(old.Refs, rec.Refs)
		rec.Sources = old.Sources
		if old.ManifestDigest != rec.ManifestDigest {
			rec.Refs = union(rec.Refs, []string{old.ManifestDigest})
		}
	}
	host, repo := reference.Domain(named), reference.Path(named)
	if !slices.Contains(rec.Sources[host], repo) {
		if rec.Sources == nil {
			rec.Sources = map[string][]string{}
		}
		rec.Sources[host] = append(rec.Sources[host], repo)
	}
	if err := s.writeRecord(rec); err != nil {
		return storage.Image{}, fmt.Errorf("record image %s: %w", id, err)
	}
	s.log.Info("pulled image", zap.String("ref", refStr), zap.String("id", id), zap.Int("layers", len(layers)),
		zap.Duration("download", unpackStart.Sub(downloadStart)), zap.Duration("unpack", time.Since(unpackStart)))
	return rec.Image, nil
}

// union is a followed by the members of b it lacks.
func union(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// fetchSmall reads a small blob (manifest, index, config), verifying its digest.
func (s *Store) fetchSmall(ctx context.Context, f remotes.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxManifestSize {
		return nil, fmt.Errorf("blob %s too large (%d bytes)", desc.Digest, desc.Size)
	}
	if b, err := content.ReadBlob(ctx, s.content, desc); err == nil {
		return b, nil
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, registryError("fetch "+desc.Digest.String(), err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", desc.Digest, err)
	}
	if desc.Digest.Validate() != nil || desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return nil, fmt.Errorf("blob %s: digest mismatch", desc.Digest)
	}
	if desc.Size == 0 {
		desc.Size = int64(len(b))
	}
	if err := s.storeBlob(ctx, desc, b); err != nil {
		return nil, err
	}
	return b, nil
}

// storeBlob writes b as desc into the content store unless it is there.
func (s *Store) storeBlob(ctx context.Context, desc ocispec.Descriptor, b []byte) error {
	if _, err := s.content.Info(ctx, desc.Digest); err == nil {
		return nil
	}
	unlock := s.locks.lock(desc.Digest.String())
	defer unlock()
	if err := content.WriteBlob(ctx, s.content, "vch-"+desc.Digest.Encoded(), bytes.NewReader(b), desc); err != nil && !cerrdefs.IsAlreadyExists(err) {
		return fmt.Errorf("store blob %s: %w", desc.Digest, err)
	}
	return nil
}

func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// fetchLayers downloads the layers that are not in the store yet,
// downloadConcurrency at a time, reporting docker's progress texts.
func (s *Store) fetchLayers(ctx context.Context, f remotes.Fetcher, layers []ocispec.Descriptor, report func(storage.Progress)) error {
	var todo []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, l := range layers {
		if seen[l.Digest] {
			continue
		}
		seen[l.Digest] = true
		if _, err := s.content.Info(ctx, l.Digest); err == nil {
			report(storage.Progress{ID: shortID(l.Digest), Status: "Already exists"})
			continue
		}
		report(storage.Progress{ID: shortID(l.Digest), Status: "Pulling fs layer"})
		todo = append(todo, l)
	}
	for i, l := range todo {
		if i >= downloadConcurrency {
			report(storage.Progress{ID: shortID(l.Digest), Status: "Waiting"})
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, downloadConcurrency)
	errs := make(chan error, len(todo))
	var wg sync.WaitGroup
	for _, l := range todo {
		wg.Add(1)
		go func(l ocispec.Descriptor) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs <- ctx.Err()
				return
			}
			defer func() { <-sem }()
			if err := s.fetchLayer(ctx, f, l, report); err != nil {
				errs <- err
				cancel()
			}
		}(l)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return ctx.Err()
}

func (s *Store) fetchLayer(ctx context.Context, f remotes.Fetcher, l ocispec.Descriptor, report func(storage.Progress)) error {
	unlock := s.locks.lock(l.Digest.String())
	defer unlock()
	id := shortID(l.Digest)
	if _, err := s.content.Info(ctx, l.Digest); err == nil {
		report(storage.Progress{ID: id, Status: "Download complete"})
		return nil
	}
	rc, err := f.Fetch(ctx, l)
	if err != nil {
		return registryError("fetch layer "+l.Digest.String(), err)
	}
	defer rc.Close()
	// A registry that sends more than the layer's size cannot fill the
	// disk: one byte more fails the size check.
	pr := &progressReader{r: io.LimitReader(rc, l.Size+1), total: l.Size, report: func(cur int64) {
		report(storage.Progress{ID: id, Status: "Downloading", Current: cur, Total: l.Size})
	}}
	// WriteBlob verifies size and digest before committing.
	ingest := "vch-" + l.Digest.Encoded()
	if err := content.WriteBlob(ctx, s.content, ingest, pr, l); err != nil && !cerrdefs.IsAlreadyExists(err) {
		// Bytes that failed the size or digest check must not be resumed
		// by the next pull; an interrupted download (the context ended)
		// is kept to resume.
		if ctx.Err() == nil {
			if aerr := s.content.Abort(context.WithoutCancel(ctx), ingest); aerr != nil && !cerrdefs.IsNotFound(aerr) {
				s.log.Warn("discard failed download", zap.String("layer", l.Digest.String()), zap.Error(aerr))
			}
		}
		return registryError("download layer "+l.Digest.String(), err)
	}
	report(storage.Progress{ID: id, Status: "Verifying Checksum"})
	report(storage.Progress{ID: id, Status: "Download complete"})
	return nil
}

// progressReader reports bytes read, at most every 100 ms, and at the end.
type progressReader struct {
	r      io.Reader
	cur    int64
	total  int64
	last   time.Time
	report func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.cur += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || (p.total > 0 && p.cur == p.total) {
		p.last = now
		p.report(p.cur)
	}
	return n, err
}

// chainID is the OCI chain ID of a layer stack.
func chainID(layers []storage.Layer) digest.Digest {
	var c digest.Digest
	for i, l := range layers {
		if i == 0 {
			c = digest.Digest(l.DiffID)
			continue
		}
		c = digest.FromString(c.String() + " " + l.DiffID)
	}
	return c
}
