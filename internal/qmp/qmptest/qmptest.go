// Package qmptest starts QEMUs for tests of QMP users.
package qmptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Start starts a QEMU (machine pc, TCG) that boots nothing (-S), with a
// QMP monitor and extra arguments, and returns the monitor's socket. The
// QEMU is killed when t ends; its output is logged if t failed.
func Start(t *testing.T, extra ...string) (sock string) {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatalf("needs qemu-system-x86_64: %v", err)
	}
	dir, err := os.MkdirTemp("", "vch-qmp-")
	if err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(dir, "qmp.sock")
	args := append([]string{"-M", "pc", "-accel", "tcg", "-nodefaults", "-no-user-config", "-display", "none", "-S",
		"-qmp", "unix:" + sock + ",server=on,wait=off"}, extra...)
	cmd := exec.Command("qemu-system-x86_64", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("QEMU's output:\n%s", out.String())
		}
		_ = os.RemoveAll(dir)
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			return sock
		}
		if i == 300 {
			t.Fatalf("no monitor socket after 30s; QEMU's output:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
