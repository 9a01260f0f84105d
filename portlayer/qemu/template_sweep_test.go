package qemu

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// startIn starts `sleep 600` with dir as its working directory and its pid
// in dir's QEMU pid file, as the build's QEMU would be.
func startIn(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := os.WriteFile(filepath.Join(dir, filePid), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// orphanIn starts `sleep 600` in dir from a shell that exits at once, so
// that its parent is no longer this process (as a build's QEMU is once
// the vchd that started it died), and returns its pid.
func orphanIn(t *testing.T, dir string) int {
	t.Helper()
	out, err := exec.Command("sh", "-c", "cd \"$1\" && sleep 600 >/dev/null 2>&1 & echo $!", "sh", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := os.WriteFile(filepath.Join(dir, filePid), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pid
}

// sweep removes interrupted builds: a directory whose QEMU is gone, and
// one whose QEMU outlived its vchd (ended first); a build whose QEMU is
// this process's child is another provider's, and stays. Templates and
// other files are not touched.
func TestTemplateSweep(t *testing.T) {
	root := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	dead := mk(".build-dead")
	if err := os.WriteFile(filepath.Join(dead, tplRAM), []byte("ram"), 0o600); err != nil {
		t.Fatal(err)
	}
	mk(".build-nopid")
	live := mk(".build-live")
	child := startIn(t, live)
	orphaned := mk(".build-orphan")
	orphan := orphanIn(t, orphaned)
	kept := mk("0123456789abcdef01234567")

	p := &Provider{log: zaptest.NewLogger(t), cfg: Config{QEMU: "/usr/bin/sleep"}}
	tp := &templates{p: p, dir: root}
	tp.sweep()

	for _, d := range []string{dead, filepath.Join(root, ".build-nopid"), orphaned} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", filepath.Base(d), err)
		}
	}
	for _, d := range []string{live, kept} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(d), err)
		}
	}
	if err := syscall.Kill(orphan, 0); err == nil && !isZombie(orphan) {
		t.Errorf("the orphaned build's process %d still runs", orphan)
	}
	if err := child.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("our own child was ended: %v", err)
	}
	if got := parentPid(os.Getpid()); got != os.Getppid() {
		t.Errorf("parentPid(self) = %d, want %d", got, os.Getppid())
	}
}

// isZombie reports a process that has exited but is not yet reaped.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// A process started with DieWithParent ends when the process that started
// it dies (here a re-executed test binary that starts `sleep` and exits).
func TestDieWithParent(t *testing.T) {
	if os.Getenv("VCH_TEST_DIE_WITH_PARENT") != "" {
		dir := os.Getenv("VCH_TEST_DIE_WITH_PARENT")
		proc, err := execRunner{}.Start(ProcessSpec{Path: "sleep", Args: []string{"600"}, Dir: dir, Output: filepath.Join(dir, "out"), DieWithParent: true})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(proc.Pid())
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestDieWithParent$")
	cmd.Env = append(os.Environ(), "VCH_TEST_DIE_WITH_PARENT="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Wait()
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	// The kernel sends SIGKILL as the helper exits; the sleep, reparented,
	// is reaped by init or a subreaper. Bounded wait, not a timing check.
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("sleep %d outlived the process that started it with DieWithParent", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
