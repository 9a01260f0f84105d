package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"
)

// Remove deletes an image record, then the blobs and the root filesystem
// disk no remaining image and no running pull uses. When no pull is
// running it sweeps the whole store, so what failed pulls left behind goes
// too; otherwise it frees only the removed image's own blobs and disk.
func (s *Store) Remove(ctx context.Context, id string) error {
	rec, err := s.readRecord(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.recordPath(rec.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", rec.ID, err)
	}
	rest, err := s.listRecords()
	if err != nil {
		return err
	}
	used := map[string]bool{} // blob digests and chain IDs
	for k := range s.inflight {
		used[k] = true
	}
	for _, o := range rest {
		for _, d := range o.blobs() {
			used[d.String()] = true
		}
		used[chainID(o.Layers).String()] = true
	}

	blobs := rec.blobs()
	chains := []digest.Digest{chainID(rec.Layers)}
	if s.holds == 0 {
		if blobs, err = s.allBlobs(ctx); err != nil {
			return err
		}
		if chains, err = s.allDisks(); err != nil {
			return err
		}
	}
	for _, d := range blobs {
		if d == "" || used[d.String()] {
			continue
		}
		if err := s.content.Delete(ctx, d); err != nil && !isNotFound(err) {
			s.log.Warn("delete blob", zap.String("digest", d.String()), zap.Error(err))
		}
	}
	for _, c := range chains {
		if used[c.String()] {
			continue
		}
		if err := s.removeDisk(c); err != nil {
			return fmt.Errorf("remove root filesystem of %s: %w", rec.ID, err)
		}
	}
	s.log.Info("removed image", zap.String("id", rec.ID))
	return nil
}

func (s *Store) removeDisk(chain digest.Digest) error {
	unlock := s.locks.lock("rootfs-" + chain.String())
	defer unlock()
	disk := s.rootfsPath(chain)
	s.verified.Delete(chain)
	return dropDisk(disk)
}

func (s *Store) allBlobs(ctx context.Context) ([]digest.Digest, error) {
	var out []digest.Digest
	err := s.content.Walk(ctx, func(i content.Info) error {
		out = append(out, i.Digest)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk content store: %w", err)
	}
	return out, nil
}

// allDisks lists the chain IDs with a disk (or a size file) in rootfs/.
func (s *Store) allDisks() ([]digest.Digest, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "rootfs"))
	if err != nil {
		return nil, fmt.Errorf("list root filesystems: %w", err)
	}
	seen := map[digest.Digest]bool{}
	var out []digest.Digest
	for _, e := range entries {
		hex, _, _ := strings.Cut(e.Name(), ".")
		d := digest.NewDigestFromEncoded(digest.SHA256, hex)
		if d.Validate() != nil || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out, nil
}

// hold marks blobs and rootfs chains as used by a running pull until the
// returned release is called; while any hold is out, Remove frees only
// the removed image's own blobs.
func (s *Store) hold(keys ...string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holds++
	for _, k := range keys {
		s.inflight[k]++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.holds--
		for _, k := range keys {
			if s.inflight[k]--; s.inflight[k] <= 0 {
				delete(s.inflight, k)
			}
		}
	}
}
