package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	contentlocal "github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/storage"
)

// Store is a local image store.
type Store struct {
	root    string
	log     *zap.Logger
	content content.Store
	locks   keyedLocks
	mu      sync.Mutex // guards image records on disk, inflight and holds
	// inflight counts, per blob digest and rootfs chain ID, the pulls
	// that use it; Remove never deletes what a running pull relies on.
	inflight map[string]int
	holds    int // running pulls (see hold)
	opts     options
	// verified holds the chain IDs whose root filesystem disk this
	// process has built or checked against its seal.
	verified sync.Map
	// measured holds, with WithLayersOnly, the size of each layer blob
	// this process has read through and checked against a diff ID (by
	// "blob-digest diff-ID").
	measured sync.Map
}

var _ storage.Store = (*Store)(nil)

// Option tunes a Store.
type Option func(*options)

type options struct {
	plainHTTP func(host string) bool
	policy    RegistryPolicy
	stall     time.Duration
	// layersOnly: pulls and commits build no flattened root filesystem
	// (see WithLayersOnly).
	layersOnly bool
}

// DefaultStallTimeout is how long a registry may keep a pull or push
// waiting for an answer or for the next bytes of a body before the store
// gives up on it.
const DefaultStallTimeout = time.Minute

// WithStallTimeout sets the stall timeout (DefaultStallTimeout).
func WithStallTimeout(d time.Duration) Option { return func(o *options) { o.stall = d } }

// WithPlainHTTP decides which registry hosts are spoken to in plain HTTP
// (default: hosts on loopback).
func WithPlainHTTP(f func(host string) bool) Option { return func(o *options) { o.plainHTTP = f } }

// WithLayersOnly makes pulls and commits keep the layers' blobs without
// building the image's flattened root filesystem disk: for a consumer
// that applies the layers itself (ApplyLayer), as the vSphere image store
// does into a disk per layer. Each new layer is still read through once,
// to check its diff ID and measure it, and an image's size is then the
// sum of its layers' files (as docker counts it) rather than the
// flattened tree's. RootFS still builds the disk when asked.
func WithLayersOnly() Option { return func(o *options) { o.layersOnly = true } }

// New opens (creating if needed) a store rooted at root.
func New(root string, log *zap.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	o := options{plainHTTP: isLoopbackHost, stall: DefaultStallTimeout}
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
	s := &Store{root: root, log: log, content: cs, opts: o, inflight: map[string]int{}}
	if err := s.sweepRootFS(); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return s, nil
}

func (s *Store) rootfsPath(chainID digest.Digest) string {
	return filepath.Join(s.root, "rootfs", chainID.Encoded()+".ext4")
}

// BlobCount is the number of blobs in the content store (tests use it to
// check that shared layers are stored once).
func (s *Store) BlobCount(ctx context.Context) (int, error) {
	n := 0
	err := s.content.Walk(ctx, func(content.Info) error { n++; return nil })
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // nothing stored yet
	}
	return n, err
}

func writeFileAtomic(path string, b []byte) error {
	return atomicfile.WriteFile(path, b, 0o644)
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
