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
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// Store is a local image store.
type Store struct {
	root    string
	log     *zap.Logger
	content content.Store
	locks   keyedLocks
	mu      sync.Mutex // guards image records on disk and inflight
	// inflight counts, per blob digest and rootfs chain ID, the pulls
	// that use it; Remove never deletes what a running pull relies on.
	inflight map[string]int
	opts     options
}

var _ storage.Store = (*Store)(nil)

// Option tunes a Store.
type Option func(*options)

type options struct {
	plainHTTP func(host string) bool
}

// WithPlainHTTP decides which registry hosts are spoken to in plain HTTP
// (default: hosts on loopback).
func WithPlainHTTP(f func(host string) bool) Option { return func(o *options) { o.plainHTTP = f } }

// New opens (creating if needed) a store rooted at root.
func New(root string, log *zap.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	o := options{plainHTTP: isLoopbackHost}
	for _, f := range opts {
		f(&o)
	}
	for _, d := range []string{"content", "images", "rootfs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	// Leftovers of an interrupted unpack.
	_ = os.RemoveAll(filepath.Join(root, "tmp"))
	_ = os.MkdirAll(filepath.Join(root, "tmp"), 0o700)
	cs, err := contentlocal.NewStore(filepath.Join(root, "content"))
	if err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	return &Store{root: root, log: log, content: cs, opts: o, inflight: map[string]int{}}, nil
}

func (s *Store) recordPath(id string) string {
	return filepath.Join(s.root, "images", strings.TrimPrefix(id, "sha256:")+".json")
}

func (s *Store) rootfsPath(chainID digest.Digest) string {
	return filepath.Join(s.root, "rootfs", chainID.Encoded()+".ext4")
}

// Get returns one image by ID ("sha256:..." or the bare hex).
func (s *Store) Get(_ context.Context, id string) (storage.Image, error) {
	if !strings.HasPrefix(id, "sha256:") {
		id = "sha256:" + id
	}
	if _, err := digest.Parse(id); err != nil {
		return storage.Image{}, errdefs.NotFound("No such image: " + id)
	}
	b, err := os.ReadFile(s.recordPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return storage.Image{}, errdefs.NotFound("No such image: " + id)
	}
	if err != nil {
		return storage.Image{}, fmt.Errorf("read image record: %w", err)
	}
	var img storage.Image
	if err := json.Unmarshal(b, &img); err != nil {
		return storage.Image{}, fmt.Errorf("decode image record %s: %w", id, err)
	}
	return img, nil
}

// List returns every image, newest pull first.
func (s *Store) List(ctx context.Context) ([]storage.Image, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []storage.Image
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		img, err := s.Get(ctx, strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			s.log.Warn("skipping unreadable image record", zap.String("file", e.Name()), zap.Error(err))
			continue
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pulled.After(out[j].Pulled) })
	return out, nil
}

func (s *Store) writeRecord(img storage.Image) error {
	b, err := json.MarshalIndent(img, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.recordPath(img.ID), b)
}

// Remove deletes an image record, its root filesystem disk if no other
// image shares it, and every blob no remaining image references.
func (s *Store) Remove(ctx context.Context, id string) error {
	img, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.recordPath(img.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove image %s: %w", img.ID, err)
	}
	rest, err := s.List(ctx)
	if err != nil {
		return err
	}
	used := map[digest.Digest]bool{}
	chains := map[digest.Digest]bool{}
	for k := range s.inflight {
		used[digest.Digest(k)] = true
		chains[digest.Digest(k)] = true
	}
	for _, o := range rest {
		used[digest.Digest(o.ManifestDigest)] = true
		used[digest.Digest(o.ID)] = true
		for _, l := range o.Layers {
			used[digest.Digest(l.Digest)] = true
		}
		chains[chainID(o.Layers)] = true
	}
	drop := []digest.Digest{digest.Digest(img.ManifestDigest), digest.Digest(img.ID)}
	for _, l := range img.Layers {
		drop = append(drop, digest.Digest(l.Digest))
	}
	for _, d := range drop {
		if d == "" || used[d] {
			continue
		}
		if err := s.content.Delete(ctx, d); err != nil && !isNotFound(err) {
			s.log.Warn("delete blob", zap.String("digest", d.String()), zap.Error(err))
		}
	}
	if c := chainID(img.Layers); !chains[c] {
		unlock := s.locks.lock("rootfs-" + c.String())
		defer unlock()
		disk := s.rootfsPath(c)
		if err := os.Remove(disk); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove root filesystem of %s: %w", img.ID, err)
		}
		_ = os.Remove(disk + ".size")
	}
	s.log.Info("removed image", zap.String("id", img.ID))
	return nil
}

// hold marks blobs and a rootfs chain as used by a running pull until the
// returned release is called.
func (s *Store) hold(keys ...string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.inflight[k]++
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, k := range keys {
			if s.inflight[k]--; s.inflight[k] <= 0 {
				delete(s.inflight, k)
			}
		}
	}
}

// BlobCount is the number of blobs in the content store (tests use it to
// check that shared layers are stored once).
func (s *Store) BlobCount(ctx context.Context) (int, error) {
	n := 0
	err := s.content.Walk(ctx, func(content.Info) error { n++; return nil })
	return n, err
}

func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// keyedLocks serialises work on one key (a blob digest, a chain ID).
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	n int
}

func (k *keyedLocks) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		l.n--
		if l.n == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
