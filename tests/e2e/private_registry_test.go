package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/tests/fixture"
)

// dockerWith runs docker against the VCH whose exports are ex (DOCKER_HOST,
// DOCKER_CERT_PATH as vic-machine create prints them).
func dockerWith(t *testing.T, ex map[string]string, stdin string, args ...string) result {
	t.Helper()
	r, err := runDocker(nil, append(dockerEnv(), "DOCKER_HOST="+ex["DOCKER_HOST"], "DOCKER_CERT_PATH="+ex["DOCKER_CERT_PATH"]), stdin, args...)
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// TestRegistryCATLS: a private registry with TLS from a CA the test makes
// and htpasswd auth, on a non-loopback address (on lo of the test's network
// namespace), as a team's project registry is. A VCH that
// does not trust the CA refuses it with the x509 error; a VCH created
// with --registry-ca logs in, pulls, runs and pushes.
func TestRegistryCATLS(t *testing.T) {
	ctx := context.Background()
	// The namespace's own lo carries the address, so nothing leaves it.
	const ip = "10.213.7.1"
	if out, err := exec.Command("ip", "addr", "add", ip+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("registry address: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "addr", "del", ip+"/32", "dev", "lo").Run() })

	dir := t.TempDir()
	certDir := filepath.Join(dir, "certs")
	if err := certs.Generate(certDir, filepath.Join(dir, "ca-key.pem"), certs.Options{CommonName: "project registry", IPs: []net.IP{net.ParseIP(ip)}}); err != nil {
		t.Fatal(err)
	}
	// Fill the registry's storage through a plain registry first (the
	// fixture pushes in HTTP), then serve it with TLS and auth.
	data := filepath.Join(dir, "reg")
	plain, err := fixture.RunRegistry(data)
	if err != nil {
		t.Fatal(err)
	}
	err = plain.Push(ctx, "project/busybox", "1.0", env.bbImage)
	plain.Close()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := fixture.RunRegistryWith(data, fixture.RegistryOptions{
		Host: ip, User: "alice", Password: "s3cret",
		CertFile: filepath.Join(certDir, certs.ServerCert), KeyFile: filepath.Join(certDir, certs.ServerKey),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	ref := reg.Addr + "/project/busybox:1.0"

	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vicMachine("delete", "--name", "e2e-regca", "--force") })
	out, err := vicMachine("create", "--name", "e2e-regca", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1")
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	ex := parseExports(out)

	// Without the CA the registry is refused.
	r := dockerWith(t, ex, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Addr)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "certificate signed by unknown authority") {
		t.Fatalf("login to a registry with an unknown CA: %s", r)
	}
	// A container runs through the reconfiguration.
	if r := dockerWith(t, ex, "", "run", "-d", "--name", "keeps-running", env.busybox, "sleep", "600"); r.Exit != 0 {
		t.Fatalf("run -d: %s", r)
	}
	cfgPath := filepath.Join(env.state, "e2e-regca", "config.json")
	before, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := vicMachine("configure", "--name", "e2e-regca", "--registry-ca", "/etc/hostname"); err == nil || !strings.Contains(out, "holds no PEM certificate") {
		t.Fatalf("configure with a bad CA file: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(cfgPath); string(after) != string(before) {
		t.Fatalf("a failed configure changed the config:\n%s", after)
	}
	if out, err := vicMachine("configure", "--name", "e2e-regca", "--registry-ca", filepath.Join(certDir, certs.CA)); err != nil {
		t.Fatalf("vic-machine configure --registry-ca: %v\n%s", err, out)
	}
	if r := dockerWith(t, ex, "", "exec", "keeps-running", "echo", "alive"); r.Exit != 0 || r.Stdout != "alive\n" {
		t.Fatalf("the container did not survive configure: %s", r)
	}

	if r := dockerWith(t, ex, "", "pull", ref); r.Exit == 0 || !strings.Contains(r.Stderr, "no basic auth credentials") {
		t.Fatalf("pull before login: %s", r)
	}
	if r := dockerWith(t, ex, "guess\n", "login", "-u", "alice", "--password-stdin", reg.Addr); r.Exit == 0 ||
		!strings.Contains(r.Stderr, "login attempt to https://"+reg.Addr+"/v2/ failed with status: 401 Unauthorized") {
		t.Fatalf("login with a wrong password: %s", r)
	}
	if r := dockerWith(t, ex, "s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Addr); r.Exit != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	t.Cleanup(func() { dockerWith(t, ex, "", "logout", reg.Addr) })
	if r := dockerWith(t, ex, "", "pull", ref); r.Exit != 0 || !strings.Contains(r.Stdout, "Downloaded newer image for "+ref) {
		t.Fatalf("pull: %s", r)
	}
	if r := dockerWith(t, ex, "", "run", "--rm", ref, "echo", "over TLS"); r.Exit != 0 || r.Stdout != "over TLS\n" {
		t.Fatalf("run: %s", r)
	}
	copyRef := reg.Addr + "/project/copy:2.0"
	if r := dockerWith(t, ex, "", "tag", ref, copyRef); r.Exit != 0 {
		t.Fatalf("tag: %s", r)
	}
	r = dockerWith(t, ex, "", "push", copyRef)
	if r.Exit != 0 || !strings.Contains(r.Stdout, "2.0: digest: "+env.bbImage.ManifestDigest()) {
		t.Fatalf("push: %s", r)
	}
	// The registry's own copy: the layer was mounted from project/busybox.
	if !strings.Contains(r.Stdout, "Mounted from project/busybox") {
		t.Fatalf("push did not mount the layer from the sibling repository: %s", r)
	}
}

// TestTokenRegistry: the seed's private-registry workflow against a
// registry behind a token server (the Bearer scheme). Wrong credentials
// get the token server's refusal in docker's words; with a login the VCH
// pulls, runs and pushes; after logout the registry refuses again.
func TestTokenRegistry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ts, err := fixture.StartTokenServer(filepath.Join(dir, "tokens"), "bob", "hunter2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	reg, err := fixture.RunRegistryWith(filepath.Join(dir, "reg"), fixture.RegistryOptions{Tokens: ts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if err := reg.Push(ctx, "project/busybox", "1.0", env.bbImage); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/project/busybox:1.0"

	want := `Error response from daemon: Get "http://` + reg.Addr + `/v2/": unauthorized: invalid username or password`
	if r := dockerIn(t, "guess\n", "login", "-u", "bob", "--password-stdin", reg.Addr); r.Exit == 0 || strings.TrimSpace(r.Stderr) != want {
		t.Fatalf("login with a wrong password: %s\nwant %q", r, want)
	}
	if r := dockerIn(t, "hunter2\n", "login", "-u", "bob", "--password-stdin", reg.Addr); r.Exit != 0 || !strings.Contains(r.Stdout, "Login Succeeded") {
		t.Fatalf("login: %s", r)
	}
	t.Cleanup(func() { docker(t, "logout", reg.Addr) })
	mustDocker(t, "pull", ref)
	if out := mustDocker(t, "run", "--rm", ref, "echo", "with a token"); out != "with a token\n" {
		t.Fatalf("run: %q", out)
	}
	copyRef := reg.Addr + "/project/copy:2.0"
	mustDocker(t, "tag", ref, copyRef)
	if out := mustDocker(t, "push", copyRef); !strings.Contains(out, "2.0: digest: "+env.bbImage.ManifestDigest()) {
		t.Fatalf("push: %s", out)
	}
	mustDocker(t, "rmi", ref, copyRef)
	mustDocker(t, "logout", reg.Addr)
	if r := docker(t, "pull", copyRef); r.Exit == 0 {
		t.Fatalf("pull after logout: %s", r)
	}
	// Nothing of the password reached the VCH's state or logs.
	err = filepath.Walk(env.vchRoot, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.Size() > 64<<20 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("hunter2")) {
			t.Errorf("%s holds the password", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
