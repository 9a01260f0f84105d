package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/tests/fixture"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/storagetest"
)

func newStore(t *testing.T) *Store {
	s, err := New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// A store reopened on the same root knows its images, rebuilds a missing
// root filesystem disk on demand, and clears leftovers of interrupted
// unpacks.
func TestReopenAndRebuild(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	bb, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	s, err := New(root, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := s.RootFS(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(disk); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(root, "tmp", "unpack-123")
	if err := os.MkdirAll(leftover, 0o700); err != nil {
		t.Fatal(err)
	}

	s2, err := New(root, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Fatalf("leftover unpack dir survived New: %v", err)
	}
	got, err := s2.Get(ctx, bb.ID())
	if err != nil || got.ID != img.ID || got.Size != img.Size || !got.Pulled.Equal(img.Pulled) {
		t.Fatalf("reopened store: %v %+v", err, got)
	}
	again, err := s2.RootFS(ctx, img.ID)
	if err != nil || again != disk {
		t.Fatalf("rebuild: %v %s", err, again)
	}
	if _, err := os.Stat(again); err != nil {
		t.Fatal(err)
	}
	// A second pull of an up-to-date image reports no layer lines.
	var lines int
	if _, err := s2.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{Progress: func(storage.Progress) { lines++ }}); err != nil {
		t.Fatal(err)
	}
	if lines != 0 {
		t.Fatalf("up-to-date pull reported %d progress lines", lines)
	}
}

// Get accepts the bare hex ID as well and rejects garbage as NotFound.
func TestGetIDForms(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	bb, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest")
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	if _, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    string
		found bool
	}{
		{bb.ID(), true},
		{strings.TrimPrefix(bb.ID(), "sha256:"), true},
		{"../../etc/passwd", false},
		{"sha256:zz", false},
		{"", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			_, err := s.Get(ctx, tc.id)
			if tc.found != (err == nil) || (!tc.found && !errdefs.IsNotFound(err)) {
				t.Fatalf("Get(%q): %v", tc.id, err)
			}
		})
	}
}
