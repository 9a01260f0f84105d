package storagetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// An OCI manifest pulls like a docker one: same config, same ID.
func testOCIManifest(t *testing.T, s storage.Store, reg *fixture.Registry) {
	bb := busybox(t)
	oci, err := fixture.ToOCI(bb)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Pull(context.Background(), push(t, reg, "oci", oci), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != bb.ID() || img.ManifestDigest != oci.ManifestDigest() {
		t.Fatalf("pulled %s (manifest %s), want %s (manifest %s)", img.ID, img.ManifestDigest, bb.ID(), oci.ManifestDigest())
	}
	checkExt4(t, s, img.ID)
}

// Layers compressed with zstd or not at all pull like gzip ones: the
// same image ID and root file system.
func testLayerCompressions(t *testing.T, s storage.Store, reg *fixture.Registry) {
	bb := busybox(t)
	for _, how := range []string{"zstd", "none"} {
		img, err := fixture.Recompress(bb, how)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Pull(context.Background(), push(t, reg, "compress-"+how, img), storage.PullOptions{})
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if got.ID != bb.ID() || got.ManifestDigest != img.ManifestDigest() || got.Layers[0].MediaType != img.Layers[0].MediaType {
			t.Fatalf("%s: pulled %+v, want ID %s manifest %s", how, got, bb.ID(), img.ManifestDigest())
		}
		checkExt4(t, s, got.ID)
		if err := s.Remove(context.Background(), got.ID); err != nil {
			t.Fatalf("%s: remove: %v", how, err)
		}
	}
}

// From an OCI index or a docker manifest list the platform's image is
// chosen: linux/amd64 by default, another when asked.
func testIndex(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	bb := busybox(t)
	arm, err := fixture.NewImageFor("linux", "arm64", fixture.ImageConfig{Cmd: []string{"arm"}}, bb.Layers...)
	if err != nil {
		t.Fatal(err)
	}
	oci, err := fixture.ToOCI(bb)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		oci      bool
		amd64    *fixture.Image
		platform string
		wantID   string
	}{
		{"oci index default platform", true, oci, "", bb.ID()},
		{"manifest list default platform", false, bb, "", bb.ID()},
		{"manifest list arm64", false, bb, "linux/arm64/v8", arm.ID()},
		{"oci index without the platform", true, oci, "linux/s390x", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x, err := fixture.NewIndex(tc.oci,
				fixture.Platform{Image: arm, OS: "linux", Architecture: "arm64", Variant: "v8"},
				fixture.Platform{Image: tc.amd64, OS: "linux", Architecture: "amd64"})
			if err != nil {
				t.Fatal(err)
			}
			if err := fixture.PushIndex(ctx, reg.Addr, "multi", "latest", x); err != nil {
				t.Fatal(err)
			}
			img, err := s.Pull(ctx, reg.Addr+"/multi:latest", storage.PullOptions{Platform: tc.platform})
			if tc.wantID == "" {
				if !errdefs.IsNotFound(err) {
					t.Fatalf("pull for %s: %v, want NotFound", tc.platform, err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.ID != tc.wantID {
				t.Fatalf("pulled %s, want %s", img.ID, tc.wantID)
			}
		})
	}
	// Every manifest and index pulled is freed with the images.
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range list {
		if err := s.Remove(ctx, img.ID); err != nil {
			t.Fatal(err)
		}
	}
	if bc, ok := s.(BlobCounter); ok {
		if n, err := bc.BlobCount(ctx); err != nil || n != 0 {
			t.Fatalf("%d blobs (%v) left after removing every image", n, err)
		}
	}
}
