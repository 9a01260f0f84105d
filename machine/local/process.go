package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vchproject/vch/machine/lockfile"
	"github.com/vchproject/vch/machine/vchconfig"
)

// Which processes serve a VCH. A pid counts only if it holds the VCH's lock
// and its command line is the expected program for this VCH's root, so a
// stale pid file (after kill -9 or a host reboot, when the pid may belong
// to anything) never passes for a running vchd.

// vchdPid returns the pid of the vchd serving root, or 0.
func vchdPid(root string) int {
	lock := filepath.Join(root, vchconfig.LockFile)
	if _, err := os.Stat(lock); err != nil {
		// A vchd from before the lock: trust the pid file only with
		// the command line.
		if pid := lockfile.ReadPid(filepath.Join(root, vchconfig.PidFile)); pid > 0 && cmdlineOf(pid, "vchd", vchconfig.Path(root)) {
			return pid
		}
		return 0
	}
	if pid := lockfile.Holder(lock); pid > 0 && cmdlineOf(pid, "vchd", vchconfig.Path(root)) {
		return pid
	}
	return 0
}

// supervisorPid returns the pid of root's supervisor, or 0.
func supervisorPid(root string) int {
	pid := lockfile.Holder(filepath.Join(root, vchconfig.SupervisorLockFile))
	if pid > 0 && cmdlineOf(pid, "", "supervise", root) {
		return pid
	}
	return 0
}

// cmdlineOf reports whether pid is alive, its program's name contains
// prog, and every one of args is among its arguments.
func cmdlineOf(pid int, prog string, args ...string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !alive(pid) {
		return false
	}
	argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(argv) == 0 || !strings.Contains(filepath.Base(argv[0]), prog) {
		return false
	}
	for _, want := range args {
		found := false
		for _, a := range argv[1:] {
			if a == want {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// stopPid sends SIGTERM, waits up to grace, then SIGKILL.
func stopPid(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 250 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// stopVCHD stops the supervisor (which stops its vchd) and any vchd left
// without one. Container VMs keep running.
func stopVCHD(root string, grace time.Duration) {
	if pid := supervisorPid(root); pid > 0 {
		stopPid(pid, grace+5*time.Second)
	}
	if pid := vchdPid(root); pid > 0 {
		stopPid(pid, grace)
	}
}
