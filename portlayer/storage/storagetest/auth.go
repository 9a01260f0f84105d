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

// A registry behind a token server (the Bearer scheme, as Docker Hub and
// most private registries do it): login, pull and push trade the
// credentials for tokens; wrong ones get the token server's refusal in
// docker's words, and no credentials is Unauthorized.
func testTokenAuth(t *testing.T, s storage.Store, _ *fixture.Registry) {
	ctx := context.Background()
	dir := t.TempDir()
	ts, err := fixture.StartTokenServer(dir+"/tokens", "bob", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	reg, err := fixture.RunRegistryWith(dir+"/reg", fixture.RegistryOptions{Tokens: ts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	bb := busybox(t)
	if err := reg.Push(ctx, "team/busybox", "1", bb); err != nil {
		t.Fatal(err)
	}
	auth := storage.Auth{Username: "bob", Password: "hunter2"}
	if _, err := s.Login(ctx, reg.Addr, auth); err != nil {
		t.Fatalf("login: %v", err)
	}
	_, err = s.Login(ctx, reg.Addr, storage.Auth{Username: "bob", Password: "guess"})
	want := `Get "http://` + reg.Addr + `/v2/": unauthorized: invalid username or password`
	if !errdefs.IsUnauthorized(err) || err.Error() != want {
		t.Fatalf("wrong password: %v, want Unauthorized %q", err, want)
	}
	ref := reg.Addr + "/team/busybox:1"
	if _, err := s.Pull(ctx, ref, storage.PullOptions{}); !errdefs.IsUnauthorized(err) {
		t.Fatalf("pull without credentials: %v", err)
	}
	img, err := s.Pull(ctx, ref, storage.PullOptions{Auth: &auth})
	if err != nil || img.ManifestDigest != bb.ManifestDigest() {
		t.Fatalf("pull: %v %+v", err, img)
	}
	res, err := s.Push(ctx, reg.Addr+"/team/copy:2", img.ID, storage.PushOptions{Auth: &auth})
	if err != nil || res.Digest != bb.ManifestDigest() {
		t.Fatalf("push: %v %+v", err, res)
	}
	if _, err := s.Pull(ctx, reg.Addr+"/team/copy:2", storage.PullOptions{Auth: &auth}); err != nil {
		t.Fatalf("pull of the pushed copy: %v", err)
	}
}
