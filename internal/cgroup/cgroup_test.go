package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGroup makes a real cgroup, applies limits, moves a busy process in
// and reads its accounting back.
func TestGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to make cgroups")
	}
	g, err := Create(fmt.Sprintf("vch-test-%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
		if g.Exists() {
			t.Error("group still exists after Remove")
		}
	}()
	rec := filepath.Join(t.TempDir(), "cgroup.json")
	if err := g.Save(rec); err != nil {
		t.Fatal(err)
	}
	back, err := Load(rec)
	if err != nil || back.V2 != g.V2 || len(back.Dirs) != len(g.Dirs) {
		t.Fatalf("Load = %+v, %v; saved %+v", back, err, g)
	}
	if none, err := Load(filepath.Join(t.TempDir(), "missing.json")); none != nil || err != nil {
		t.Fatalf("Load of a missing record = %v, %v", none, err)
	}
	s := Settings{CPUQuotaUS: 50000, CPUPeriodUS: 100000, CPUShares: 2048, CPUWeight: 200, MemoryLimit: 256 << 20, MemorySoft: 128 << 20}
	if err := g.Apply(s); err != nil {
		t.Fatal(err)
	}
	if !g.V2 {
		for file, want := range map[string]string{"cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.shares": "2048", "memory/memory.limit_in_bytes": "268435456", "memory/memory.soft_limit_in_bytes": "134217728"} {
			ctl, name, _ := strings.Cut(file, "/")
			b, err := os.ReadFile(filepath.Join(g.Dirs[ctl], name))
			if err != nil || strings.TrimSpace(string(b)) != want {
				t.Errorf("%s = %q, %v; want %s", file, b, err, want)
			}
		}
	}
	// A busy loop in the group: it is counted and throttled.
	// It waits to be moved before it execs: cgroup v1 memory charges do
	// not move with a task, so only pages it maps after the move (the
	// new program's) are counted in the group.
	cmd := exec.Command("sh", "-c", "read go; exec sh -c 'while :; do :; done'")
	moved, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := g.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := moved.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	pids, err := g.Procs()
	if err != nil || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("Procs = %v, %v; want %d in it", pids, err, cmd.Process.Pid)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		used, err := g.CPUUsage()
		if err != nil {
			t.Fatal(err)
		}
		thr, err := g.Throttled()
		if err != nil {
			t.Fatal(err)
		}
		if used > 0 && thr > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("busy loop not accounted/throttled: used %v, throttled %d", used, thr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if mem, err := g.MemoryUsage(); err != nil || mem <= 0 {
		t.Errorf("MemoryUsage = %d, %v", mem, err)
	}
	// Unlimited again.
	if err := g.Apply(Settings{}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}
