package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/portlayer/storage/storagetest"
	"github.com/vchproject/vch/tests/fixture"
)

// A layers-only store is a whole store too: RootFS builds the disk when
// asked, and pulls report docker's progress.
func TestConformanceLayersOnly(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := New(t.TempDir(), nil, WithLayersOnly())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func rootfsDisks(t *testing.T, root string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "rootfs", "*.ext4"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// With WithLayersOnly, pulls and commits build no root filesystem disk;
// an image's size is the sum of its layers' files; a layer whose content
// is not the config's diff ID still fails the pull and leaves no image.
func TestLayersOnly(t *testing.T) {
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	root := t.TempDir()
	s, err := New(root, zaptest.NewLogger(t), WithLayersOnly())
	if err != nil {
		t.Fatal(err)
	}
	pull := func(repo string, img *fixture.Image) (storage.Image, error) {
		t.Helper()
		if err := fixture.Push(ctx, reg.Addr, repo, "latest", img); err != nil {
			t.Fatal(err)
		}
		return s.Pull(ctx, reg.Addr+"/"+repo+":latest", storage.PullOptions{})
	}
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	base, err := pull("busybox", bb)
	if err != nil {
		t.Fatal(err)
	}
	big, err := fixture.Big(2, 10000)
	if err != nil {
		t.Fatal(err)
	}
	two, err := pull("big", big)
	if err != nil {
		t.Fatal(err)
	}
	if d := rootfsDisks(t, root); len(d) != 0 {
		t.Fatalf("a layers-only pull built disks: %v", d)
	}
	if base.Size <= 0 {
		t.Fatalf("busybox size %d", base.Size)
	}
	// Two layers of one 10000-byte file each: three 4 KiB blocks each.
	if got, want := two.Size-base.Size, int64(2*12288); got != want {
		t.Fatalf("two layers over busybox add %d bytes, want %d", got, want)
	}
	// A pull of an image the store has is up to date without a disk.
	again, err := s.Pull(ctx, reg.Addr+"/big:latest", storage.PullOptions{})
	if err != nil || again.ID != two.ID {
		t.Fatalf("pull again: %v, %s", err, again.ID)
	}

	// The layer's content does not hash to the diff ID in the config.
	l, err := fixture.BuildLayer([]fixture.Entry{{Path: "etc/lie", Data: []byte("not what the config says\n")}})
	if err != nil {
		t.Fatal(err)
	}
	l.DiffID = "sha256:" + strings.Repeat("0", 64)
	liar, err := fixture.NewImage(fixture.ImageConfig{Cmd: []string{"sh"}}, bb.Layers[0], l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pull("liar", liar); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("pull of a layer that is not its diff ID: %v", err)
	}
	if _, err := s.Get(ctx, liar.ID()); err == nil {
		t.Fatal("the image with the bad layer was recorded")
	}
	// Another blob that claims a diff ID the store has checked for a
	// different blob is checked too.
	other, err := fixture.BuildLayer([]fixture.Entry{{Path: "etc/other", Data: []byte("other content\n")}})
	if err != nil {
		t.Fatal(err)
	}
	other.DiffID = big.Layers[1].DiffID
	copycat, err := fixture.NewImage(fixture.ImageConfig{Cmd: []string{"sh"}}, bb.Layers[0], other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pull("copycat", copycat); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("pull of a blob claiming a checked diff ID: %v", err)
	}

	// RootFS still builds the flattened disk on demand.
	disk, err := s.RootFS(ctx, two.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(disk); err != nil {
		t.Fatal(err)
	}
}
