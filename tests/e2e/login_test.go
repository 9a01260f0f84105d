package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/tests/fixture"
)

// TestLoginPullLogout: the seed's private-registry workflow. docker login
// checks the credentials against the registry (the registry's 401 text for
// wrong ones), a pull then carries them, and after docker logout the
// registry refuses the pull again. The VCH keeps no credentials.
func TestLoginPullLogout(t *testing.T) {
	reg := fixture.StartRegistryAuth(t, "alice", "s3cret")
	if err := reg.Push(context.Background(), "project/busybox", "1.0", env.bbImage); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/project/busybox:1.0"

	r := dockerIn(t, "guess\n", "login", "-u", "alice", "--password-stdin", reg.Addr)
	want := "Error response from daemon: login attempt to http://" + reg.Addr + "/v2/ failed with status: 401 Unauthorized"
	if r.Exit == 0 || !strings.Contains(r.Stderr, want) {
		t.Fatalf("login with a wrong password: %s\nwant %q", r, want)
	}

	r = dockerIn(t, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Addr)
	if r.Exit != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	t.Cleanup(func() { docker(t, "logout", reg.Addr) })

	mustDocker(t, "pull", ref)
	if out := mustDocker(t, "run", "--rm", ref, "echo", "from the private registry"); out != "from the private registry\n" {
		t.Fatalf("run: %q", out)
	}
	mustDocker(t, "rmi", ref)

	if r := docker(t, "logout", reg.Addr); r.Exit != 0 || !strings.Contains(r.Stdout, "Removing login credentials for "+reg.Addr) {
		t.Fatalf("logout: %s", r)
	}
	if r := docker(t, "pull", ref); r.Exit == 0 || !strings.Contains(strings.ToLower(r.Stderr), "unauthorized") {
		t.Fatalf("pull after logout: %s", r)
	}

	// Nothing of the password reached the VCH's state or logs.
	err := filepath.Walk(env.vchRoot, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "s3cret") {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
