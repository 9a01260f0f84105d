package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// vic-machine create prints the export lines for any name; delete --force
// removes every process and file it made.
func TestVicMachineCreateDelete(t *testing.T) {
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	bin := filepath.Join(env.repo, "bin", "vic-machine")
	root := filepath.Join(state, "second-vch")
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() {
		if _, err := os.Stat(root); err == nil {
			_ = exec.Command(bin, "delete", "--name", "second-vch", "--force", "--state-dir", state).Run()
		}
	})
	out, err := exec.Command(bin, "create", "--name", "second-vch", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--state-dir", state).CombinedOutput()
	if err != nil {
		t.Fatalf("create: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		fmt.Sprintf("export DOCKER_HOST=tcp://127.0.0.1:%d", port),
		"export DOCKER_TLS_VERIFY=1",
		"export DOCKER_CERT_PATH=" + filepath.Join(root, "certs"),
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("create printed:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	ls, err := exec.Command(bin, "ls", "--state-dir", state).CombinedOutput()
	if err != nil || !strings.Contains(string(ls), "second-vch") || !strings.Contains(string(ls), "UPGRADE STATUS") {
		t.Fatalf("ls: %v\n%s", err, ls)
	}
	if out, err := exec.Command(bin, "create", "--name", "second-vch", "--api-port", fmt.Sprint(port+1), "--state-dir", state).CombinedOutput(); err == nil {
		t.Fatalf("create of an existing name succeeded: %s", out)
	}
	pids, _ := exec.Command("pgrep", "-f", "vchd --config "+root).Output()
	if len(strings.Fields(string(pids))) != 1 {
		t.Fatalf("vchd not running for the new VCH: %q", pids)
	}
	if out, err := exec.Command(bin, "delete", "--name", "second-vch", "--force", "--state-dir", state).CombinedOutput(); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("delete left %s: %v", root, err)
	}
	awaitNothingLeft(t, "after delete", func() string {
		if pids, _ := exec.Command("pgrep", "-f", root).Output(); len(strings.TrimSpace(string(pids))) != 0 {
			return "processes " + strings.Join(strings.Fields(string(pids)), " ")
		}
		return ""
	})
}
