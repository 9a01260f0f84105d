package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/internal/testwait"
	"github.com/vchproject/vch/machine/vchconfig"
)

func TestRestartDelay(t *testing.T) {
	d := restartDelay(0, time.Second)
	if d != firstRestartDelay {
		t.Fatalf("first delay %v", d)
	}
	for i := 0; i < 20; i++ {
		d = restartDelay(d, time.Second)
	}
	if d != maxRestartDelay {
		t.Fatalf("delay after many quick deaths: %v", d)
	}
	if d := restartDelay(maxRestartDelay, stableRun); d != firstRestartDelay {
		t.Fatalf("delay after a stable run: %v", d)
	}
}

// fakeVCHD writes a vchd stand-in script that records its pid and then
// runs body.
func fakeVCHD(t *testing.T, root, body string) string {
	t.Helper()
	cfg := &vchconfig.Config{Name: "sup", Root: root, APIAddr: "127.0.0.1:1"}
	if err := cfg.Save(vchconfig.Path(root)); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "vchd")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho $$ >> "+filepath.Join(root, "pids")+"\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func pidsOf(root string) []int {
	b, _ := os.ReadFile(filepath.Join(root, "pids"))
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Eventually(t, 30*time.Second, 10*time.Millisecond, what, cond)
}

// The supervisor restarts a vchd killed by a signal, and stops it (and
// itself) on cancellation.
func TestSuperviseRestartsAfterKill(t *testing.T) {
	root := t.TempDir()
	vchd := fakeVCHD(t, root, "exec sleep 1000")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Supervise(ctx, root, vchd) }()
	eventually(t, "first vchd", func() bool { return len(pidsOf(root)) == 1 })
	first := pidsOf(root)[0]
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "vchd restarted", func() bool { return len(pidsOf(root)) == 2 })
	second := pidsOf(root)[1]
	if pid := supervisorPid(root); pid != 0 {
		t.Fatalf("the test binary passed for a supervisor: %d", pid)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Supervise: %v", err)
	}
	if alive(second) {
		t.Fatal("vchd survived the supervisor's stop")
	}
	if !strings.Contains(string(mustReadFile(t, filepath.Join(root, vchconfig.LogFile))), supervisorLine+supervisorDied) {
		t.Fatal("the death was not logged")
	}
}

// vchd exiting 0 (stopped on purpose) ends supervision; exit 3 (another
// vchd serves the VCH) ends it with an error; other exits are retried.
func TestSuperviseExitCodes(t *testing.T) {
	for _, tc := range []struct {
		body    string
		wantErr bool
		runs    int
	}{
		{"exit 0", false, 1},
		{"exit 3", true, 1},
		{`[ "$(wc -l < ` + "PIDS" + `)" -ge 3 ] && exit 0; exit 1`, false, 3},
	} {
		root := t.TempDir()
		body := strings.ReplaceAll(tc.body, "PIDS", filepath.Join(root, "pids"))
		err := Supervise(context.Background(), root, fakeVCHD(t, root, body))
		if (err != nil) != tc.wantErr || len(pidsOf(root)) != tc.runs {
			t.Errorf("%q: err %v, %d runs; want error %v, %d runs", tc.body, err, len(pidsOf(root)), tc.wantErr, tc.runs)
		}
	}
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A vchd.pid naming a live process that is not this VCH's vchd (a reused
// pid after a host reboot) does not make the VCH running, with or without
// a lock file.
func TestStalePidIsNotRunning(t *testing.T) {
	root := t.TempDir()
	fakeVCHD(t, root, "true")
	if err := os.WriteFile(filepath.Join(root, vchconfig.PidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid := vchdPid(root); pid != 0 {
		t.Fatalf("stale pid file without a lock: running as %d", pid)
	}
	if err := os.WriteFile(filepath.Join(root, vchconfig.LockFile), []byte(strconv.Itoa(os.Getppid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid := vchdPid(root); pid != 0 {
		t.Fatalf("unheld lock file: running as %d", pid)
	}
	v, err := Inspect(filepath.Dir(root), filepath.Base(root))
	if err == nil && v.Running {
		t.Fatal("Inspect says running")
	}
}

// waitReady (after startVCHD) counts only the deaths the new supervisor
// logged, not those of an earlier one in the same log.
func TestSupervisorLogStart(t *testing.T) {
	log := filepath.Join(t.TempDir(), "vchd.log")
	old := "t " + supervisorLine + "supervising VCH x (pid 10)\nt " + supervisorLine + supervisorDied + ": pid 11\n"
	cur := "t " + supervisorLine + "supervising VCH x (pid 20)\n{\"msg\":\"starting vchd\"}\n"
	if err := os.WriteFile(log, []byte(old+cur), 0o600); err != nil {
		t.Fatal(err)
	}
	off, ok := supervisorLogStart(log, 20)
	if want := int64(len(old) + len("t ")); !ok || off != want {
		t.Fatalf("start of supervisor 20: %d %v, want %d", off, ok, want)
	}
	if diedDuringStart(log, off) {
		t.Fatal("an earlier supervisor's death counted")
	}
	if _, ok := supervisorLogStart(log, 30); ok {
		t.Fatal("found a supervisor that never logged")
	}
	if off, ok := supervisorLogStart(log, 10); !ok || off != int64(len("t ")) {
		t.Fatalf("start of supervisor 10: %d %v", off, ok)
	}
}
