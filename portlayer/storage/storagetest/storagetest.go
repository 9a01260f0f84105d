// Package storagetest is the conformance suite every storage.Store passes.
//
// A provider adopts it in a few lines:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
//	}
//
// Each subtest gets a fresh store from the factory and its own registry
// (Debian's docker-registry, run by tests/fixture), and pushes images built
// by the fixture. The suite checks what callers rely on: IDs are config
// digests, the root filesystem is an ext4 disk holding the layers applied in
// order (whiteouts, no path escapes), errors carry errdefs classes, blobs
// are stored once and freed with their last image, and concurrent pulls of
// one image are safe. Stores that implement BlobCounter get the blob checks.
// Inspecting disks needs e2fsprogs' debugfs.
package storagetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// BlobCounter is implemented by stores that can count their blobs.
type BlobCounter interface {
	BlobCount(ctx context.Context) (int, error)
}

// Run runs the suite.
func Run(t *testing.T, factory func(t *testing.T) storage.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s storage.Store, reg *fixture.Registry)
	}{
		{"PullGetList", testPullGetList},
		{"RootFSIsExt4", testRootFS},
		{"UnknownManifestIsNotFound", testUnknown},
		{"SharedLayerStoredOnce", testShared},
		{"Remove", testRemove},
		{"ProgressTexts", testProgress},
		{"ProgressPerLayer", testProgressPerLayer},
		{"OCIManifest", testOCIManifest},
		{"LayerCompressions", testLayerCompressions},
		{"IndexPicksPlatform", testIndex},
		{"ConcurrentPulls", testConcurrentPulls},
		{"RemoveKeepsSharedBlobs", testRemoveShared},
		{"UnreachableRegistry", testUnreachable},
		{"WhiteoutsApplyInOrder", testWhiteouts},
		{"HostileLayerStaysInside", testHostile},
		{"Credentials", testCredentials},
		{"Login", testLogin},
		{"TokenAuth", testTokenAuth},
		{"Push", testPush},
		{"PushMountsFromOtherRepository", testPushMounts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := fixture.StartRegistry(t)
			tc.fn(t, factory(t), reg)
		})
	}
}

func push(t *testing.T, reg *fixture.Registry, repo string, img *fixture.Image) string {
	t.Helper()
	if err := fixture.Push(context.Background(), reg.Addr, repo, "latest", img); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/%s:latest", reg.Addr, repo)
}

func busybox(t *testing.T) *fixture.Image {
	t.Helper()
	img, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func testPullGetList(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	bb := busybox(t)
	ref := push(t, reg, "busybox", bb)
	img, err := s.Pull(ctx, ref, storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != bb.ID() || img.ManifestDigest != bb.ManifestDigest() || len(img.Layers) != 1 || img.Size <= 0 {
		t.Fatalf("pulled %+v, want id %s manifest %s", img, bb.ID(), bb.ManifestDigest())
	}
	if want := time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC); !img.Created.Equal(want) || img.Pulled.IsZero() {
		t.Fatalf("created %v (want %v, from the config), pulled %v", img.Created, want, img.Pulled)
	}
	if l := img.Layers[0]; l.Digest != bb.Layers[0].Digest || l.DiffID != bb.Layers[0].DiffID || l.Size != int64(len(bb.Layers[0].Blob)) || l.MediaType != fixture.MediaTypeLayer {
		t.Fatalf("layer %+v, want digest %s diffID %s size %d", l, bb.Layers[0].Digest, bb.Layers[0].DiffID, len(bb.Layers[0].Blob))
	}
	byDigest, err := s.Pull(ctx, reg.Addr+"/busybox@"+bb.ManifestDigest(), storage.PullOptions{})
	if err != nil || byDigest.ID != img.ID {
		t.Fatalf("pull by digest: %v %s", err, byDigest.ID)
	}
	got, err := s.Get(ctx, img.ID)
	if err != nil || got.ID != img.ID || string(got.Config) != string(bb.Config) {
		t.Fatalf("get: %v %+v", err, got.ID)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != img.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	if _, err := s.Get(ctx, "sha256:"+strings.Repeat("0", 64)); !errdefs.IsNotFound(err) {
		t.Fatalf("get unknown: %v", err)
	}
}

func testRootFS(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	img, err := s.Pull(ctx, push(t, reg, "busybox", busybox(t)), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := checkExt4(t, s, img.ID)
	again, err := s.RootFS(ctx, img.ID)
	if err != nil || again != path {
		t.Fatalf("rootfs not stable: %s vs %s (%v)", again, path, err)
	}
	if ls := debugfsLs(t, path, "/bin"); !contains(ls, "busybox") || !contains(ls, "sh") {
		t.Fatalf("/bin holds %v", ls)
	}
}

// checkExt4 asserts the image's root filesystem disk is ext4 and returns it.
func checkExt4(t *testing.T, s storage.Store, id string) string {
	t.Helper()
	path, err := s.RootFS(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var magic [2]byte
	if _, err := f.ReadAt(magic[:], 1080); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(magic[:]) != 0xEF53 {
		t.Fatalf("root filesystem %s is not ext4 (magic %x)", path, magic)
	}
	return path
}

func testUnknown(t *testing.T, s storage.Store, reg *fixture.Registry) {
	_, err := s.Pull(context.Background(), reg.Addr+"/nope:latest", storage.PullOptions{})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("pull of a missing repo: %v, want NotFound", err)
	}
	want := "manifest for " + reg.Addr + "/nope:latest not found: manifest unknown: manifest unknown"
	if err.Error() != want {
		t.Fatalf("error text %q, want %q", err, want)
	}
}

func testShared(t *testing.T, s storage.Store, reg *fixture.Registry) {
	bc, ok := s.(BlobCounter)
	if !ok {
		t.Fatalf("%T does not count blobs; every store must show shared layers are stored once", s)
	}
	ctx := context.Background()
	bb := busybox(t)
	wl, err := fixture.WhiteoutLayer()
	if err != nil {
		t.Fatal(err)
	}
	two, err := fixture.WithLayer(bb, fixture.ImageConfig{Cmd: []string{"cat", "/added.txt"}}, wl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(ctx, push(t, reg, "busybox", bb), storage.PullOptions{}); err != nil {
		t.Fatal(err)
	}
	var already []string
	if _, err := s.Pull(ctx, push(t, reg, "two", two), storage.PullOptions{Progress: func(p storage.Progress) {
		if p.Status == "Already exists" {
			already = append(already, p.ID)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	n, err := bc.BlobCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// busybox: manifest, config, layer; two: manifest, config, one new layer.
	if n != 6 {
		t.Fatalf("%d blobs stored, want 6 (the shared busybox layer once)", n)
	}
	if len(already) != 1 || already[0] != strings.TrimPrefix(bb.Layers[0].Digest, "sha256:")[:12] {
		t.Fatalf("Already exists reported for %v", already)
	}
}

func testRemove(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	img, err := s.Pull(ctx, push(t, reg, "busybox", busybox(t)), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path, err := s.RootFS(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, img.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("get after remove: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("root filesystem left behind: %v", err)
	}
	if bc, ok := s.(BlobCounter); ok {
		if n, _ := bc.BlobCount(ctx); n != 0 {
			t.Fatalf("%d blobs left after removing the only image", n)
		}
	}
	if err := s.Remove(ctx, img.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v", err)
	}
}

func testProgress(t *testing.T, s storage.Store, reg *fixture.Registry) {
	var seen []string
	_, err := s.Pull(context.Background(), push(t, reg, "busybox", busybox(t)), storage.PullOptions{Progress: func(p storage.Progress) {
		if len(seen) == 0 || seen[len(seen)-1] != p.Status {
			seen = append(seen, p.Status)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(seen, ",")
	for _, want := range []string{"Pulling fs layer", "Downloading", "Download complete", "Extracting", "Pull complete"} {
		if !strings.Contains(got, want) {
			t.Fatalf("progress %q lacks %q", got, want)
		}
	}
}
