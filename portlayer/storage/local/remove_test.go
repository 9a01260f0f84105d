package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// Removing an image while a pull relies on its layer (reported "Already
// exists") keeps the layer: the pull completes and its disk is whole.
func TestRemoveDuringPull(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	bb, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest")
	if err != nil {
		t.Fatal(err)
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
	s := newStore(t)
	if _, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var removeErr error
	removed := false
	img, err := s.Pull(ctx, reg.Addr+"/two:latest", storage.PullOptions{Progress: func(p storage.Progress) {
		if p.Status == "Already exists" && !removed {
			removed = true
			removeErr = s.Remove(ctx, bb.ID())
		}
	}})
	if !removed || removeErr != nil {
		t.Fatalf("remove during pull: ran %v, %v", removed, removeErr)
	}
	if err != nil {
		t.Fatalf("pull after a concurrent remove: %v", err)
	}
	if n, err := s.BlobCount(ctx); err != nil || n != 4 {
		t.Fatalf("%d blobs (%v), want two's 4", n, err)
	}
	disk, err := s.RootFS(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ls := debugfsLsSizes(t, disk, "/bin"); ls["busybox"] == 0 {
		t.Fatalf("/bin/busybox missing from %s: %v", disk, ls)
	}
}

// What a failed pull leaves in the content store goes with the next
// Remove that runs while no pull is.
func TestRemoveSweepsFailedPulls(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	bb, err := fixture.PushBusybox(ctx, reg.Addr, "busybox", "latest")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := fixture.BuildLayer([]fixture.Entry{{Path: "bad.txt", Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	bad.DiffID = "sha256:" + strings.Repeat("0", 64) // the config lies
	lying, err := fixture.NewImage(fixture.ImageConfig{Cmd: []string{"sh"}}, bb.Layers[0], bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.Push(ctx, reg.Addr, "lying", "latest", lying); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	if _, err := s.Pull(ctx, reg.Addr+"/lying:latest", storage.PullOptions{}); err == nil {
		t.Fatal("pull of an image whose layer does not match its diff ID succeeded")
	}
	if n, _ := s.BlobCount(ctx); n == 0 {
		t.Fatal("the failed pull stored nothing; the sweep below would prove nothing")
	}
	img, err := s.Pull(ctx, reg.Addr+"/busybox:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.BlobCount(ctx); err != nil || n != 0 {
		t.Fatalf("%d blobs (%v) left", n, err)
	}
	if left, _ := os.ReadDir(filepath.Join(s.root, "rootfs")); len(left) != 0 {
		t.Fatalf("rootfs/ still holds %d entries", len(left))
	}
}
