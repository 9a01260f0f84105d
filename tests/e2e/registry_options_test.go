package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/vchconfig"
)

// TestRegistryOptions: a VCH made with --whitelist-registry,
// --registry-mirror, --insecure-registry and --registry-ca. Docker Hub
// names come from the mirror (Docker Hub itself is unreachable here), a
// registry outside the whitelist is refused for pulls and logins with
// VIC's text, and docker info lists the settings. Bad settings fail the
// create and leave nothing behind.
func TestRegistryOptions(t *testing.T) {
	ctx := context.Background()
	if err := env.registry.Push(ctx, "library/busybox", "latest", env.bbImage); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	caPEM, err := os.ReadFile(filepath.Join(env.certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	mirror := "http://" + env.registry.Addr
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vicMachine("delete", "--name", "e2e-registry", "--force") })
	out, err := vicMachine("create", "--name", "e2e-registry", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--whitelist-registry", "docker.io", "--whitelist-registry", "*.example.com",
		"--registry-mirror", mirror, "--insecure-registry", "10.0.0.0/8", "--insecure-registry", "reg.example.com:5000",
		"--registry-ca", ca)
	if err != nil {
		t.Fatalf("vic-machine create: %v\n%s", err, out)
	}
	ex := parseExports(out)
	run := func(args ...string) result {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = append(dockerEnv(), "DOCKER_HOST="+ex["DOCKER_HOST"], "DOCKER_CERT_PATH="+ex["DOCKER_CERT_PATH"])
		var o, e strings.Builder
		cmd.Stdout, cmd.Stderr = &o, &e
		r := result{}
		if err := cmd.Run(); err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Fatal(err)
			}
			r.Exit = ee.ExitCode()
		}
		r.Stdout, r.Stderr = o.String(), e.String()
		return r
	}

	root := filepath.Join(env.state, "e2e-registry")
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(cfg.Registry.CAFile); err != nil || !strings.Contains(string(b), strings.TrimSpace(string(caPEM))) {
		t.Fatalf("registry CA not kept in the VCH: %q %v", cfg.Registry.CAFile, err)
	}

	if r := run("pull", "busybox"); r.Exit != 0 || !strings.Contains(r.Stdout, "Downloaded newer image for busybox:latest") {
		t.Fatalf("pull through the mirror: %s", r)
	}
	denied := "Access denied to unauthorized registry (" + env.registry.Addr + ") while VCH is in whitelist mode"
	if r := run("pull", env.busybox); r.Exit == 0 || !strings.Contains(r.Stderr, denied) {
		t.Fatalf("pull outside the whitelist: %s", r)
	}
	if r := run("login", "-u", "a", "-p", "b", env.registry.Addr); r.Exit == 0 || !strings.Contains(r.Stderr, denied) {
		t.Fatalf("login outside the whitelist: %s", r)
	}

	r := run("info", "--format", "{{json .RegistryConfig}}|{{json .DriverStatus}}")
	if r.Exit != 0 {
		t.Fatalf("info: %s", r)
	}
	regJSON, status, _ := strings.Cut(strings.TrimSpace(r.Stdout), "|")
	var rc struct {
		InsecureRegistryCIDRs []string
		IndexConfigs          map[string]struct{ Secure bool }
		Mirrors               []string
	}
	if err := json.Unmarshal([]byte(regJSON), &rc); err != nil {
		t.Fatalf("info: %v: %s", err, r.Stdout)
	}
	if strings.Join(rc.Mirrors, ",") != mirror || !strings.Contains(strings.Join(rc.InsecureRegistryCIDRs, ","), "10.0.0.0/8") ||
		rc.IndexConfigs["reg.example.com:5000"].Secure {
		t.Fatalf("info registry config: %s", regJSON)
	}
	if !strings.Contains(status, `["Registry Whitelist Mode","enabled"]`) || !strings.Contains(status, "docker.io, *.example.com") {
		t.Fatalf("info whitelist: %s", status)
	}
	if r := run("info"); !strings.Contains(r.Stdout, "Registry Mirrors:") || !strings.Contains(r.Stdout, mirror) {
		t.Fatalf("docker info text: %s", r)
	}

	// Bad settings: a clear error, and no VCH left behind (should one
	// be made all the same, the cleanup removes it).
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(env.state, "e2e-bad-registry")); err == nil {
			vicMachine("delete", "--name", "e2e-bad-registry", "--force")
		}
	})
	for _, args := range [][]string{
		{"--whitelist-registry", "reg*.com"},
		{"--insecure-registry", "10.0.0.0/33"},
		{"--registry-mirror", "mirror.example.com"},
		{"--registry-ca", filepath.Join(t.TempDir(), "missing.pem")},
		{"--registry-ca", "/etc/hostname"},
	} {
		out, err := vicMachine(append([]string{"create", "--name", "e2e-bad-registry", "--api-port", fmt.Sprint(port + 1)}, args...)...)
		if err == nil {
			vicMachine("delete", "--name", "e2e-bad-registry", "--force")
			t.Fatalf("create %v succeeded:\n%s", args, out)
		}
		if _, err := os.Stat(filepath.Join(env.state, "e2e-bad-registry")); !os.IsNotExist(err) {
			t.Fatalf("create %v left its directory: %v", args, err)
		}
	}
}
