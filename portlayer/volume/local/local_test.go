package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	// Shared volumes are mounted on the host until removed; the test
	// directories can only go once they are unmounted.
	t.Cleanup(func() {
		for _, s := range stores {
			if err := local.Unmount(s.Path); err != nil {
				t.Error(err)
			}
		}
	})
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
	path := filepath.Join(p.Stores()[0].Path, "volumes", "sized", "disk.ext4")
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

// A shared volume's capacity holds for what VMs write through its host
// directory: writing past it fails with ENOSPC, and Unmount releases the
// host mount while the data stays.
func TestSharedCapacityAndUnmount(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stores := []volume.Store{{Label: "default", Path: dir}}
	p := open(t, stores)
	if _, err := p.Create(ctx, volume.CreateOptions{Name: "small", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	a, err := p.Attach(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(a.Dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var werr error
	written := 0
	for i := 0; i < 64 && werr == nil; i++ {
		var n int
		n, werr = f.Write(buf)
		written += n
		if werr == nil {
			werr = f.Sync()
		}
	}
	f.Close()
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing 64 MB into a 16 MB volume: %v after %d bytes, want ENOSPC", werr, written)
	}
	if written > 16<<20 {
		t.Fatalf("wrote %d bytes into a 16 MB volume", written)
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "fill"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := local.Unmount(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, "fill")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Unmount the file is still visible at the mount point: %v", err)
	}
	b, err := open(t, stores).Attach(ctx, "small")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(b.Dir, "fill")); err != nil || string(got) != "kept" {
		t.Fatalf("after remount: %q, %v", got, err)
	}
}

// A volume made before sharing (no "shared" in its record) keeps its
// one-VM-at-a-time disk and is never mounted on the host.
func TestUnsharedVolumeAttachesItsDisk(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stores := []volume.Store{{Label: "default", Path: dir}}
	if _, err := open(t, stores).Create(ctx, volume.CreateOptions{Name: "old", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(dir, "volumes", "old", "volume.json")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"shared": true`, `"shared": false`, 1))
	if err := os.WriteFile(rec, b, 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := open(t, stores).Attach(ctx, "old")
	if err != nil {
		t.Fatal(err)
	}
	if a.Dir != "" || a.Disk != filepath.Join(dir, "volumes", "old", "disk.ext4") {
		t.Fatalf("Attach = %+v, want the disk only", a)
	}
}
