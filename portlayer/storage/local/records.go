package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// record is what images/<id>.json holds: the image, plus what only this
// store needs to free its blobs.
type record struct {
	storage.Image
	// Refs are the digests of the indexes or manifest lists walked to
	// reach the manifest, and of other manifests pulled earlier for the
	// same image (the same config in docker and OCI form, say); they sit
	// in the content store like any blob.
	Refs []string `json:"refs,omitempty"`
	// Sources are the repositories, by registry host, that the image was
	// pulled from or pushed to: a push to another repository of the same
	// registry asks it to mount the blobs from one of them.
	Sources map[string][]string `json:"sources,omitempty"`
}

// addSource records that image id is in repo on host (a registry domain
// as reference.Domain gives it). Failures only cost a later mount.
func (s *Store) addSource(id, host, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.readRecord(id)
	if err != nil {
		return
	}
	for _, x := range r.Sources[host] {
		if x == repo {
			return
		}
	}
	if r.Sources == nil {
		r.Sources = map[string][]string{}
	}
	r.Sources[host] = append(r.Sources[host], repo)
	if err := s.writeRecord(r); err != nil {
		s.log.Debug("record image source", zap.String("id", id), zap.Error(err))
	}
}

// blobs lists every content-store blob the image uses.
func (r record) blobs() []digest.Digest {
	out := []digest.Digest{digest.Digest(r.ManifestDigest), digest.Digest(r.ID)}
	for _, l := range r.Layers {
		out = append(out, digest.Digest(l.Digest))
	}
	for _, x := range r.Refs {
		out = append(out, digest.Digest(x))
	}
	return out
}

// Get returns one image by ID ("sha256:..." or the bare hex).
func (s *Store) Get(_ context.Context, id string) (storage.Image, error) {
	r, err := s.readRecord(id)
	return r.Image, err
}

// List returns every image, newest pull first.
func (s *Store) List(context.Context) ([]storage.Image, error) {
	recs, err := s.listRecords()
	if err != nil {
		return nil, err
	}
	out := make([]storage.Image, len(recs))
	for i, r := range recs {
		out[i] = r.Image
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pulled.After(out[j].Pulled) })
	return out, nil
}

func (s *Store) recordPath(id string) string {
	return filepath.Join(s.root, "images", strings.TrimPrefix(id, "sha256:")+".json")
}

func (s *Store) readRecord(id string) (record, error) {
	if !strings.HasPrefix(id, "sha256:") {
		id = "sha256:" + id
	}
	if _, err := digest.Parse(id); err != nil {
		return record{}, errdefs.NotFound("No such image: " + id)
	}
	b, err := os.ReadFile(s.recordPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return record{}, errdefs.NotFound("No such image: " + id)
	}
	if err != nil {
		return record{}, fmt.Errorf("read image record: %w", err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("decode image record %s: %w", id, err)
	}
	return r, nil
}

// listRecords reads every record, skipping (and logging) unreadable ones.
func (s *Store) listRecords() ([]record, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []record
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		r, err := s.readRecord(name)
		if err != nil {
			s.log.Warn("skipping unreadable image record", zap.String("file", e.Name()), zap.Error(err))
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// writeRecord replaces r's record atomically.
func (s *Store) writeRecord(r record) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.recordPath(r.ID), b)
}
