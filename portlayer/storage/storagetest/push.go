package storagetest

import (
	"context"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// Push uploads a pulled image to another registry (with credentials) under
// a new name; the registry then serves the same manifest, a pull from
// there gives the same image, a second push finds every layer there, and
// an unknown image is NotFound.
func testPush(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	bb := busybox(t)
	img, err := s.Pull(ctx, push(t, reg, "busybox", bb), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target := fixture.StartRegistryAuth(t, "alice", "s3cret")
	auth := &storage.Auth{Username: "alice", Password: "s3cret"}
	ref := target.Addr + "/team/copy:v1"
	var statuses []string
	res, err := s.Push(ctx, ref, img.ID, storage.PushOptions{Auth: auth, Progress: func(p storage.Progress) {
		statuses = append(statuses, p.ID+" "+p.Status)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != bb.ManifestDigest() || res.Size <= 0 {
		t.Fatalf("pushed %+v, want digest %s", res, bb.ManifestDigest())
	}
	layer := strings.TrimPrefix(bb.Layers[0].DiffID, "sha256:")[:12]
	if len(statuses) < 2 || statuses[0] != layer+" Preparing" || statuses[len(statuses)-1] != layer+" Pushed" {
		t.Fatalf("progress %q", statuses)
	}
	statuses = nil
	if _, err := s.Push(ctx, ref, img.ID, storage.PushOptions{Auth: auth, Progress: func(p storage.Progress) {
		statuses = append(statuses, p.ID+" "+p.Status)
	}}); err != nil {
		t.Fatal(err)
	}
	if statuses[len(statuses)-1] != layer+" Layer already exists" {
		t.Fatalf("second push progress %q", statuses)
	}
	back, err := s.Pull(ctx, ref, storage.PullOptions{Auth: auth})
	if err != nil || back.ID != img.ID || back.ManifestDigest != res.Digest {
		t.Fatalf("pull of the pushed image: %v %+v", err, back)
	}
	if _, err := s.Push(ctx, ref, "sha256:"+bb.ID()[7:15]+"00000000000000000000000000000000000000000000000000000000", storage.PushOptions{Auth: auth}); !errdefs.IsNotFound(err) {
		t.Fatalf("push of an unknown image: %v", err)
	}
	if _, err := s.Push(ctx, ref, img.ID, storage.PushOptions{}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("push without credentials: %v", err)
	}
}

// A push to another repository of the registry an image came from mounts
// its blobs from there instead of uploading them, and says so as docker
// does; a push after that finds them in place.
func testPushMounts(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	bb := busybox(t)
	img, err := s.Pull(ctx, push(t, reg, "mountsrc/busybox", bb), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	layer := strings.TrimPrefix(bb.Layers[0].DiffID, "sha256:")[:12]
	pushed := func(ref string) []string {
		t.Helper()
		var statuses []string
		res, err := s.Push(ctx, ref, img.ID, storage.PushOptions{Progress: func(p storage.Progress) {
			statuses = append(statuses, p.ID+" "+p.Status)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != bb.ManifestDigest() {
			t.Fatalf("pushed %+v, want digest %s", res, bb.ManifestDigest())
		}
		return statuses
	}
	st := pushed(reg.Addr + "/mountdst/copy:v1")
	if st[len(st)-1] != layer+" Mounted from mountsrc/busybox" {
		t.Fatalf("push to a sibling repository: progress %q", st)
	}
	for _, x := range st {
		if strings.HasSuffix(x, " Pushing") {
			t.Fatalf("a mounted layer was uploaded: %q", st)
		}
	}
	// The pushed repository is a source too now; pushing there again
	// finds the layer.
	st = pushed(reg.Addr + "/mountdst/copy:v2")
	if st[len(st)-1] != layer+" Layer already exists" {
		t.Fatalf("second push: progress %q", st)
	}
	back, err := s.Pull(ctx, reg.Addr+"/mountdst/copy:v1", storage.PullOptions{})
	if err != nil || back.ID != img.ID {
		t.Fatalf("pull of the mounted image: %v %+v", err, back)
	}
}
