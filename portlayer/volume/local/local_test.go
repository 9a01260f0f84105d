package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/volume/local"
	"github.com/vchproject/vch/portlayer/volume/volumetest"
)

func open(t *testing.T, stores []volume.Store) *local.Provider {
	t.Helper()
	p, err := local.New(stores, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	volumetest.Run(t, func(t *testing.T, stores []volume.Store) volumetest.Instance {
		return volumetest.Instance{Provider: open(t, stores), Reopen: func() volume.Provider { return open(t, stores) }}
	})
}

// The disk is a sparse ext4 image exactly Capacity bytes long.
func TestDiskIsSparseExt4OfCapacity(t *testing.T) {
	ctx := context.Background()
	p := open(t, []volume.Store{{Label: "default", Path: t.TempDir()}})
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "sized", Capacity: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	path, err := p.Disk(ctx, "sized")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 256<<20 {
		t.Fatalf("disk size %d, want %d", fi.Size(), 256<<20)
	}
	b := make([]byte, 2)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadAt(b, 1024+0x38); err != nil {
		t.Fatal(err)
	}
	if b[0] != 0x53 || b[1] != 0xef {
		t.Fatalf("no ext4 superblock magic: % x", b)
	}
}

// Leftovers of an interrupted create or remove are swept at open and never
// show as volumes.
func TestReopenSweepsLeftovers(t *testing.T) {
	dir := t.TempDir()
	stores := []volume.Store{{Label: "default", Path: dir}}
	open(t, stores)
	for _, d := range []string{".tmp-half-123", ".trash-old", "norecord"} {
		if err := os.MkdirAll(filepath.Join(dir, "volumes", d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	p := open(t, stores)
	list, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("leftovers listed as volumes: %+v", list)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "volumes"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover %s not swept", e.Name())
		}
	}
}

func TestNewRejectsBadStores(t *testing.T) {
	dir := t.TempDir()
	for _, s := range [][]volume.Store{
		{{Label: "a b", Path: dir}},
		{{Label: "x", Path: "relative"}},
		{{Label: "x", Path: dir}, {Label: "x", Path: dir + "/2"}},
	} {
		if _, err := local.New(s, nil); err == nil {
			t.Errorf("New(%+v) succeeded", s)
		}
	}
}
