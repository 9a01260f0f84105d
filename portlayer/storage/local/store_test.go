package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/storagetest"
	"github.com/vchproject/vch/tests/fixture"
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

// Layers apply in order, with whiteouts, and a hostile layer cannot write
// outside the root it is unpacked into.
func TestWhiteoutsAndHostileLayers(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	s := newStore(t)
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "pwned")
	hostile, err := fixture.HostileLayer(outside)
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.WithLayer(bb, fixture.ImageConfig{Cmd: []string{"sh"}}, hostile)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Push(ctx, reg.Addr, "hostile", "latest", img); err != nil {
		t.Fatal(err)
	}
	_, err = s.Pull(ctx, reg.Addr+"/hostile:latest", storage.PullOptions{})
	if _, serr := os.Stat(outside); serr == nil {
		t.Fatalf("hostile layer wrote %s (pull error: %v)", outside, err)
	}
	if _, serr := os.Stat("/pwned"); serr == nil {
		t.Fatal("hostile layer wrote /pwned")
	}

	wl, err := fixture.WhiteoutLayer()
	if err != nil {
		t.Fatal(err)
	}
	two, err := fixture.WithLayer(bb, fixture.ImageConfig{Cmd: []string{"sh"}}, wl)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Push(ctx, reg.Addr, "two", "latest", two); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(ctx, reg.Addr+"/two:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := s.RootFS(ctx, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	ls := debugfsLs(t, disk, "/etc")
	if contains(ls, "group") || !contains(ls, "passwd") {
		t.Fatalf("whiteout not applied, /etc holds %v", ls)
	}
	if !contains(debugfsLs(t, disk, "/"), "added.txt") {
		t.Fatal("second layer's file missing")
	}
}
