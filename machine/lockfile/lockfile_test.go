package lockfile

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestSingleHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vchd.lock")
	if pid := Holder(path); pid != 0 {
		t.Fatalf("holder of a missing lock: %d", pid)
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	if pid := Holder(path); pid != os.Getpid() {
		t.Fatalf("holder %d, want %d", pid, os.Getpid())
	}
	// flock belongs to the open file, so a second open in this process
	// is refused just as another process would be.
	_, err = Acquire(path)
	var held *HeldError
	if !errors.As(err, &held) || held.Pid != os.Getpid() {
		t.Fatalf("second acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if pid := Holder(path); pid != 0 {
		t.Fatalf("holder after release: %d", pid)
	}
	l2, err := Acquire(path)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}

// A file naming a live process that holds no lock (a pid reused after a
// host reboot) does not count as a holder.
func TestStalePidIsNoHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vchd.lock")
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid := Holder(path); pid != 0 {
		t.Fatalf("stale pid counted as holder: %d", pid)
	}
}
