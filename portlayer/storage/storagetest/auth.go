package storagetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// A registry with basic auth refuses anonymous and wrong credentials as
// Unauthorized and serves PullOptions.Auth's.
func testCredentials(t *testing.T, s storage.Store, _ *fixture.Registry) {
	ctx := context.Background()
	reg := fixture.StartRegistryAuth(t, "alice", "s3cret")
	bb := busybox(t)
	if err := reg.Push(ctx, "private/busybox", "latest", bb); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/private/busybox:latest"
	for _, tc := range []struct {
		name string
		auth *storage.Auth
		ok   bool
	}{
		{"anonymous", nil, false},
		{"wrong password", &storage.Auth{Username: "alice", Password: "guess"}, false},
		{"right password", &storage.Auth{Username: "alice", Password: "s3cret"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := s.Pull(ctx, ref, storage.PullOptions{Auth: tc.auth})
			if !tc.ok {
				if !errdefs.IsUnauthorized(err) {
					t.Fatalf("pull: %v, want Unauthorized", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.ID != bb.ID() {
				t.Fatalf("pulled %s, want %s", img.ID, bb.ID())
			}
		})
	}
}

// Login answers as docker login: the right credentials pass, wrong ones
// are Unauthorized with docker's text, a registry without auth takes any,
// and an unreachable one is Unavailable.
func testLogin(t *testing.T, s storage.Store, open *fixture.Registry) {
	ctx := context.Background()
	reg := fixture.StartRegistryAuth(t, "alice", "s3cret")
	if _, err := s.Login(ctx, reg.Addr, storage.Auth{Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatalf("right password: %v", err)
	}
	_, err := s.Login(ctx, reg.Addr, storage.Auth{Username: "alice", Password: "guess"})
	want := "login attempt to http://" + reg.Addr + "/v2/ failed with status: 401 Unauthorized"
	if !errdefs.IsUnauthorized(err) || err.Error() != want {
		t.Fatalf("wrong password: %v, want Unauthorized %q", err, want)
	}
	if _, err := s.Login(ctx, reg.Addr, storage.Auth{}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("no credentials: %v, want Unauthorized", err)
	}
	if _, err := s.Login(ctx, open.Addr, storage.Auth{Username: "anyone", Password: "x"}); err != nil {
		t.Fatalf("registry without auth: %v", err)
	}
	gone := fixture.StartRegistry(t)
	addr := gone.Addr
	gone.Close()
	if _, err := s.Login(ctx, addr, storage.Auth{Username: "alice", Password: "s3cret"}); !errdefs.IsUnavailable(err) {
		t.Fatalf("unreachable registry: %v, want Unavailable", err)
	}
}
