package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

const (
	bigLayers    = 4
	bigLayerSize = 25 << 20
)

// pushBig pushes busybox plus bigLayers layers of incompressible data.
func pushBig(tb testing.TB) (*fixture.Registry, *fixture.Image, string) {
	tb.Helper()
	reg := fixture.StartRegistry(tb)
	img, err := fixture.Big(bigLayers, bigLayerSize)
	if err != nil {
		tb.Fatal(err)
	}
	if err := fixture.Push(context.Background(), reg.Addr, "big", "latest", img); err != nil {
		tb.Fatal(err)
	}
	return reg, img, reg.Addr + "/big:latest"
}

// A ~100 MB image pulls into a disk it fits in, with every byte in place;
// the time is logged (it is a figure, not an assertion).
func TestPullBig(t *testing.T) {
	_, want, ref := pushBig(t)
	s, err := New(t.TempDir(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var downloads, extracts int
	start := time.Now()
	img, err := s.Pull(context.Background(), ref, storage.PullOptions{Progress: func(p storage.Progress) {
		switch p.Status {
		case "Downloading":
			downloads++
		case "Extracting":
			extracts++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if img.ID != want.ID() || len(img.Layers) != bigLayers+1 || img.Size < bigLayers*bigLayerSize {
		t.Fatalf("pulled %s, %d layers, %d bytes", img.ID, len(img.Layers), img.Size)
	}
	disk, err := s.RootFS(context.Background(), img.ID)
	if err != nil {
		t.Fatal(err)
	}
	ls := debugfsLsSizes(t, disk, "/data")
	for i := range bigLayers {
		name := fmt.Sprintf("blob%d", i)
		if ls[name] != bigLayerSize {
			t.Fatalf("/data/%s holds %d bytes, want %d (listing %v)", name, ls[name], bigLayerSize, ls)
		}
	}
	st, err := os.Stat(disk)
	if err != nil {
		t.Fatal(err)
	}
	var blobs int64
	for _, l := range img.Layers {
		blobs += l.Size
	}
	t.Logf("pulled %d MB compressed (%d MB unpacked) in %v, disk %d MB apparent; %d Downloading and %d Extracting updates",
		blobs>>20, img.Size>>20, took.Round(time.Millisecond), st.Size()>>20, downloads, extracts)
	if downloads < bigLayers || extracts < bigLayers {
		t.Fatalf("progress too sparse: %d downloads, %d extracts", downloads, extracts)
	}
}

// BenchmarkPullBig measures pulling the ~100 MB image into an empty store
// (download, verify, unpack, mkfs) from the local registry.
func BenchmarkPullBig(b *testing.B) {
	_, _, ref := pushBig(b)
	root := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		s, err := New(filepath.Join(root, fmt.Sprint(i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Pull(context.Background(), ref, storage.PullOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// An image of many small files gets enough inodes on its disk.
func TestManySmallFiles(t *testing.T) {
	const n = 20000
	entries := make([]fixture.Entry, n)
	for i := range entries {
		entries[i] = fixture.Entry{Path: fmt.Sprintf("many/d%02d/f%05d", i%50, i), Data: []byte{byte(i)}}
	}
	l, err := fixture.BuildLayer(entries)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := fixture.BusyboxLayer()
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.NewImage(fixture.ImageConfig{Cmd: []string{"sh"}}, bb, l)
	if err != nil {
		t.Fatal(err)
	}
	reg := fixture.StartRegistry(t)
	if err := fixture.Push(context.Background(), reg.Addr, "many", "latest", img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got, err := s.Pull(context.Background(), reg.Addr+"/many:latest", storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk, err := s.RootFS(context.Background(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ls := debugfsLsSizes(t, disk, "/many/d49"); len(ls) != n/50+2 { // + . and ..
		t.Fatalf("/many/d49 holds %d entries, want %d", len(ls), n/50+2)
	}
}

// A pull cancelled mid-download leaves nothing that breaks the next pull.
func TestCancelledPullResumes(t *testing.T) {
	_, want, ref := pushBig(t)
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := s.Pull(ctx, ref, storage.PullOptions{Progress: func(p storage.Progress) {
		if p.Status == "Downloading" && p.Current > 0 && p.Current < p.Total {
			cancel()
		}
	}})
	cancel()
	if err == nil {
		t.Fatal("cancelled pull succeeded")
	}
	if _, err := s.Get(context.Background(), want.ID()); err == nil {
		t.Fatal("cancelled pull recorded the image")
	}
	img, err := s.Pull(context.Background(), ref, storage.PullOptions{})
	if err != nil {
		t.Fatalf("pull after a cancelled one: %v", err)
	}
	if img.ID != want.ID() {
		t.Fatalf("pulled %s, want %s", img.ID, want.ID())
	}
	if n, err := s.BlobCount(context.Background()); err != nil || n != len(want.Layers)+2 {
		t.Fatalf("%d blobs (%v), want %d", n, err, len(want.Layers)+2)
	}
}
