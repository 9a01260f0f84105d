// Package lockfile makes a process the only one of its kind for a VCH: an
// exclusive flock on a file in the VCH's state directory, which names the
// holder's pid. The kernel drops the lock when the holder dies (kill -9,
// host reboot), so a stale file never blocks, and a reused pid is never
// mistaken for the holder: only a held lock counts.
//
// vchd takes ROOT/vchd.lock before it touches any state; the supervisor
// takes ROOT/supervisor.lock. vic-machine asks Holder who serves a VCH.
package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Lock is a held lock; it lasts until Release or the process's exit.
type Lock struct {
	f *os.File
}

// HeldError says another live process holds the lock.
type HeldError struct {
	Path string
	Pid  int // 0 when the holder had not written its pid yet
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is held by pid %d", e.Path, e.Pid)
}

// Acquire takes the lock at path without waiting and writes the caller's
// pid into it. Another holder gives a *HeldError. The descriptor is
// close-on-exec, so children (QEMU) never inherit the lock.
func Acquire(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Path: path, Pid: ReadPid(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(pid, 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Sync()
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Holder reports the pid of the live process holding the lock at path, or
// 0 if nobody holds it (the file may name a dead or reused pid: ignored).
func Holder(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0
	}
	if pid := ReadPid(path); pid > 0 {
		return pid
	}
	return -1 // held, pid not yet written
}

// ReadPid reads a pid file: 0 if there is none or it holds no pid.
func ReadPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
