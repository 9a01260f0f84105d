package fakestore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// Store is the fake. The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	remote   map[string]storage.Image // pullable, by full reference
	local    map[string]storage.Image // pulled, by ID
	progress []storage.Progress
	disks    map[string]string    // image ID -> root filesystem disk
	users    map[string][2]string // registry host -> user, password
	Pulls    []string             // references pulled, in order
	Pushes   []string             // references pushed, in order
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{remote: map[string]storage.Image{}, local: map[string]storage.Image{}, disks: map[string]string{}, users: map[string][2]string{}}
}

// Image builds an image whose config is cfg (marshalled to JSON); its ID is
// the digest of that JSON, as in a registry.
func Image(cfg any, created time.Time, size int64) storage.Image {
	b, err := json.Marshal(cfg)
	if err != nil {
		panic(err)
	}
	id := digest.FromBytes(b).String()
	return storage.Image{
		ID:             id,
		ManifestDigest: digest.FromString("manifest of " + id).String(),
		Config:         b,
		Layers:         []storage.Layer{{Digest: digest.FromString("layer " + id).String(), DiffID: digest.FromString("diff " + id).String(), Size: size / 2}},
		Size:           size,
		Created:        created,
	}
}

// Remote makes img pullable as ref (a fully qualified reference).
func (s *Store) Remote(ref string, img storage.Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remote[ref] = img
}

// Local puts img in the store as if pulled.
func (s *Store) Local(img storage.Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.local[img.ID] = img
}

// Script sets the progress every Pull reports before it returns.
func (s *Store) Script(p ...storage.Progress) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress = p
}

// Pull implements storage.Puller.
func (s *Store) Pull(_ context.Context, ref string, opts storage.PullOptions) (storage.Image, error) {
	s.mu.Lock()
	img, ok := s.remote[ref]
	prog := s.progress
	s.Pulls = append(s.Pulls, ref)
	s.mu.Unlock()
	if !ok {
		return storage.Image{}, errdefs.NotFound(fmt.Sprintf("manifest for %s not found: manifest unknown: manifest unknown", ref))
	}
	for _, p := range prog {
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	img.Pulled = time.Now()
	s.Local(img)
	return img, nil
}

// Get implements storage.Reader.
func (s *Store) Get(_ context.Context, id string) (storage.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, ok := s.local[id]
	if !ok {
		return storage.Image{}, errdefs.NotFound("image " + id + " not found")
	}
	return img, nil
}

// List implements storage.Reader.
func (s *Store) List(context.Context) ([]storage.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.Image, 0, len(s.local))
	for _, img := range s.local {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Disk makes RootFS(id) answer path (a real ext4 disk, for tests that
// boot VMs).
func (s *Store) Disk(id, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disks[id] = path
}

// RootFS implements storage.RootFS.
func (s *Store) RootFS(ctx context.Context, id string) (string, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.disks[id]; ok {
		return p, nil
	}
	return "/fake/" + id + ".ext4", nil
}

// Remove implements storage.Remover.
func (s *Store) Remove(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.local[id]; !ok {
		return errdefs.NotFound("image " + id + " not found")
	}
	delete(s.local, id)
	return nil
}

// User makes the registry at host require user and password for Login.
func (s *Store) User(host, user, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[host] = [2]string{user, password}
}

// Login implements storage.Authenticator: a host without a User accepts
// anyone; one with a User accepts only it.
func (s *Store) Login(_ context.Context, host string, auth storage.Auth) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[host]
	if !ok || (auth.Username == u[0] && auth.Password == u[1]) {
		return "", nil
	}
	return "", errdefs.New(errdefs.ErrUnauthorized, fmt.Sprintf("login attempt to http://%s/v2/ failed with status: 401 Unauthorized", host))
}

// Push implements storage.Pusher: the image becomes pullable as ref, with
// each layer reported as pushed.
func (s *Store) Push(_ context.Context, ref, id string, opts storage.PushOptions) (storage.PushResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img, ok := s.local[id]
	if !ok {
		return storage.PushResult{}, errdefs.NotFound("No such image: " + id)
	}
	for _, l := range img.Layers {
		if opts.Progress != nil {
			opts.Progress(storage.Progress{ID: l.DiffID, Status: "Pushed", Current: l.Size, Total: l.Size})
		}
	}
	s.remote[ref] = img
	s.Pushes = append(s.Pushes, ref)
	return storage.PushResult{Digest: img.ManifestDigest, Size: 527}, nil
}
