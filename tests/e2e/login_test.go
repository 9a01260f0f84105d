package e2e

import (
	"context"
	"net/http"
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
	// docker's text, and no prompt for credentials (which hangs a CLI
	// without a terminal).
	want = `Error response from daemon: Head "http://` + reg.Addr + `/v2/project/busybox/manifests/1.0": no basic auth credentials`
	if r := docker(t, "pull", ref); r.Exit != 1 || strings.TrimSpace(r.Stderr) != want {
		t.Fatalf("pull after logout: %s\nwant %q", r, want)
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

// TestPush: docker push of a pulled image, retagged for a private registry,
// with docker's progress and final digest line; the registry then serves
// that digest, a second push finds the layer there, and the image pulls
// back. Without a login the registry's refusal comes back as docker's.
func TestPush(t *testing.T) {
	src := pulled(t)
	reg := fixture.StartRegistryAuth(t, "alice", "s3cret")
	dst := reg.Addr + "/team/pushed:v1"
	mustDocker(t, "tag", src, dst)
	t.Cleanup(func() { docker(t, "rmi", dst) })

	r := docker(t, "push", dst)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "no basic auth credentials") {
		t.Fatalf("push without login: %s", r)
	}
	if r := dockerIn(t, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Addr); r.Exit != 0 {
		t.Fatalf("login: %s", r)
	}
	t.Cleanup(func() { docker(t, "logout", reg.Addr) })

	out := mustDocker(t, "push", dst)
	layer := strings.TrimPrefix(env.bbImage.Layers[0].DiffID, "sha256:")[:12]
	for _, want := range []string{"The push refers to repository [" + reg.Addr + "/team/pushed]", layer + ": Pushed", "v1: digest: " + env.bbImage.ManifestDigest() + " size: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("push output lacks %q:\n%s", want, out)
		}
	}
	// The registry serves that manifest under the tag.
	req, _ := http.NewRequest(http.MethodHead, "http://"+reg.Addr+"/v2/team/pushed/manifests/v1", nil)
	req.SetBasicAuth("alice", "s3cret")
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != 200 || got != env.bbImage.ManifestDigest() {
		t.Fatalf("registry has %d %q, want %s", resp.StatusCode, got, env.bbImage.ManifestDigest())
	}
	if out := mustDocker(t, "push", dst); !strings.Contains(out, layer+": Layer already exists") {
		t.Fatalf("second push:\n%s", out)
	}
	mustDocker(t, "rmi", dst)
	mustDocker(t, "pull", dst)
	if r := docker(t, "push", reg.Addr+"/team/nothing:here"); r.Exit == 0 || !strings.Contains(r.Stderr, "An image does not exist locally with the tag: "+reg.Addr+"/team/nothing") {
		t.Fatalf("push of an unknown tag: %s", r)
	}
}
