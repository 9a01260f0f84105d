package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/vchconfig"
)

// TestBundle: make bundle's vic-bundle.tar.gz, unpacked elsewhere, is
// self-contained: ./vic-machine-linux create from it starts a VCH whose
// vchd, tether and guest kernel are the bundle's, and docker runs a
// container on it.
func TestBundle(t *testing.T) {
	dir := t.TempDir()
	tarball := filepath.Join(dir, "vic-bundle.tar.gz")
	if out, err := exec.Command(filepath.Join(env.repo, "scripts", "bundle.sh"), tarball).CombinedOutput(); err != nil {
		t.Fatalf("bundle: %v\n%s", err, out)
	}
	unpacked := filepath.Join(dir, "unpacked")
	if err := os.MkdirAll(unpacked, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-C", unpacked, "-xzf", tarball).CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v\n%s", err, out)
	}
	vic := filepath.Join(unpacked, "vic")
	for _, f := range []string{"vic-machine-linux", "vchd", "tether", "README", "kernel/vmlinuz", "kernel/version"} {
		if _, err := os.Stat(filepath.Join(vic, f)); err != nil {
			t.Fatalf("bundle lacks %s: %v", f, err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	vm := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(vic, "vic-machine-linux"), append(args, "--state-dir", state)...)
		cmd.Dir = vic
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vm("delete", "--name", "bundled", "--force") })
	out, err := vm("create", "--name", "bundled", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--container-memory", "256M")
	if err != nil {
		t.Fatalf("create from the bundle: %v\n%s", err, out)
	}
	root := filepath.Join(state, "bundled")
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KernelDir != filepath.Join(vic, "kernel") || cfg.TetherPath != filepath.Join(vic, "tether") {
		t.Fatalf("the VCH does not use the bundle's kernel and tether: %+v", cfg)
	}
	b, err := os.ReadFile(filepath.Join(root, "vchd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != filepath.Join(vic, "vchd") {
		t.Fatalf("vchd runs %q (%v), want the bundle's", exe, err)
	}
	if r := dockerWith(t, parseExports(out), "", "run", "--rm", env.busybox, "echo", "from the bundle"); r.Exit != 0 || r.Stdout != "from the bundle\n" {
		t.Fatalf("run on the bundled VCH: %s", r)
	}
	if out, err := vm("ls"); err != nil || !strings.Contains(out, "bundled") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	if out, err := vm("delete", "--name", "bundled", "--force"); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("delete left %s: %v", root, err)
	}
}
