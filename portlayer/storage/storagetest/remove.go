package storagetest

import (
	"context"
	"net"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// Removing an image keeps what another image still uses.
func testRemoveShared(t *testing.T, s storage.Store, reg *fixture.Registry) {
	ctx := context.Background()
	bb := busybox(t)
	one, err := s.Pull(ctx, push(t, reg, "busybox", bb), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	two, err := s.Pull(ctx, push(t, reg, "two", twoLayers(t)), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkExt4(t, s, two.ID)
	if err := s.Remove(ctx, two.ID); err != nil {
		t.Fatal(err)
	}
	if bc, ok := s.(BlobCounter); ok {
		if n, err := bc.BlobCount(ctx); err != nil || n != 3 {
			t.Fatalf("%d blobs (%v) after removing the second image, want busybox's 3", n, err)
		}
	}
	disk := checkExt4(t, s, one.ID)
	if ls := debugfsLs(t, disk, "/etc"); !contains(ls, "group") {
		t.Fatalf("busybox's rootfs changed: /etc holds %v", ls)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != one.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
}

// A registry nobody listens on is Unavailable, not NotFound.
func testUnreachable(t *testing.T, s storage.Store, _ *fixture.Registry) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = s.Pull(context.Background(), addr+"/busybox:latest", storage.PullOptions{})
	if err == nil || errdefs.IsNotFound(err) || !errdefs.IsUnavailable(err) {
		t.Fatalf("pull from a closed port: %v, want an Unavailable error", err)
	}
	t.Logf("error: %v", err)
}
