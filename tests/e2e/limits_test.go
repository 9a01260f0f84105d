package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/machine/vchconfig"
)

// qemuPids are the QEMU processes of v's containers.
func (v *netVCH) qemuPids(t *testing.T) []int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(v.root, "containers", "*", "qemu.pid"))
	var pids []int
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// cpuTime is the CPU time (user+system, all threads) of pid so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("QEMU pid %d: %v", pid, err)
	}
	// Fields after the command, which ends at the last ')'.
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// vchGroup is the cgroup vchd recorded for v.
func (v *netVCH) vchGroup(t *testing.T) *cgroup.Group {
	t.Helper()
	g, err := cgroup.Load(filepath.Join(v.root, vchconfig.CgroupFile))
	if err != nil || g == nil {
		t.Fatalf("VCH cgroup record: %v, %v", g, err)
	}
	return g
}

func cgroupValue(t *testing.T, g *cgroup.Group, ctl, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(g.Dirs[ctl], file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// VCH-wide limits: under --cpu 1core two busy containers share one core
// (the VCH's cgroup, holding both QEMUs, never gets more than one core's
// time and is throttled; each VM gets a fair part). docker info, inspect
// and inspect config show the limits; configure changes them with the
// containers running, and refuses a memory limit below what the VCH uses.
func TestVCHLimitsShareOneCore(t *testing.T) {
	pulled(t)
	v := newNetVCH(t, "--cpu", "1core", "--memory", "3G", "--cpu-shares", "high", "--memory-reservation", "256M")
	img := env.busybox
	v.must(t, "pull", img)

	g := v.vchGroup(t)
	if g.V2 {
		t.Log("cgroup v2 in use")
	} else {
		if q := cgroupValue(t, g, "cpu", "cpu.cfs_quota_us"); q != "100000" {
			t.Fatalf("cpu.cfs_quota_us = %s, want 100000 (one core)", q)
		}
		if s := cgroupValue(t, g, "cpu", "cpu.shares"); s != "2048" {
			t.Fatalf("cpu.shares = %s, want 2048 (high)", s)
		}
		if m := cgroupValue(t, g, "memory", "memory.limit_in_bytes"); m != fmt.Sprint(3<<30) {
			t.Fatalf("memory.limit_in_bytes = %s, want 3G", m)
		}
	}

	info := v.must(t, "info")
	for _, want := range []string{"CPUs: 1\n", "VCH CPU limit: 1core", "VCH memory limit: 3072 MB", "VCH CPU shares: high", "VCH memory reservation: 256 MB", "Total Memory: 3GiB"} {
		if !strings.Contains(info, want) {
			t.Errorf("docker info lacks %q:\n%s", want, info)
		}
	}
	out, err := v.vicMachine("inspect", "--name", v.name)
	if err != nil || !strings.Contains(out, "VCH CPU limit: 1core") || !strings.Contains(out, "VCH memory limit: 3072 MB") {
		t.Errorf("inspect: %v\n%s", err, out)
	}
	out, err = v.vicMachine("inspect", "config", "--name", v.name)
	if err != nil || !strings.Contains(out, "--cpu 1core") || !strings.Contains(out, "--memory 3072MB") || !strings.Contains(out, "--cpu-shares high") || !strings.Contains(out, "--memory-reservation 256MB") {
		t.Errorf("inspect config: %v\n%s", err, out)
	}

	// Two busy containers; each first fills 100 MB of guest memory (the
	// guest's page cache) so that the VCH uses a known amount.
	busy := "head -c 100m /dev/zero > /tmp/fill; echo filled; while :; do :; done"
	v.must(t, "run", "-d", "--name", "busy1", img, "sh", "-c", busy)
	v.must(t, "run", "-d", "--name", "busy2", img, "sh", "-c", busy)
	for _, c := range []string{"busy1", "busy2"} {
		poll(t, c+" filled its memory", func() bool { return strings.Contains(v.docker(t, "logs", c).Stdout, "filled") })
	}
	pids := v.qemuPids(t)
	if len(pids) != 2 {
		t.Fatalf("QEMU pids %v, want 2", pids)
	}
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if !slices.Contains(procs, pid) {
			t.Fatalf("QEMU %d is not in the VCH cgroup (%v)", pid, procs)
		}
	}

	// Measure: CPU time of the group and of each QEMU over a window of at
	// least 6 s of the group's CPU time that lasts until the cgroup shows
	// throttling (on a loaded host the two VMs may get less than the
	// quota for a while, and are throttled only once they get it).
	used0, err := g.CPUUsage()
	if err != nil {
		t.Fatal(err)
	}
	thr0, err := g.Throttled()
	if err != nil {
		t.Fatal(err)
	}
	per0 := []time.Duration{cpuTime(t, pids[0]), cpuTime(t, pids[1])}
	wall0 := time.Now()
	deadline := wall0.Add(5 * time.Minute)
	var used time.Duration
	var thr int64
	for {
		u, err := g.CPUUsage()
		if err != nil {
			t.Fatal(err)
		}
		if thr, err = g.Throttled(); err != nil {
			t.Fatal(err)
		}
		if used = u - used0; used >= 6*time.Second && thr > thr0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in 5 minutes the busy containers used %v CPU and the VCH cgroup was throttled in %d periods: want at least 6s and throttling", used, thr-thr0)
		}
		time.Sleep(500 * time.Millisecond)
	}
	wall := time.Since(wall0)
	per := []time.Duration{cpuTime(t, pids[0]) - per0[0], cpuTime(t, pids[1]) - per0[1]}
	t.Logf("VCH cgroup: %v CPU in %v wall (%.2f cores), throttled in %d periods; QEMUs: %v, %v", used, wall, used.Seconds()/wall.Seconds(), thr-thr0, per[0], per[1])
	// The quota caps the group at one core: at most the wall time, plus
	// one period and accounting slack. A loaded host only lowers it.
	if max := wall + wall/20 + 200*time.Millisecond; used > max {
		t.Errorf("VCH used %v CPU in %v: more than one core", used, wall)
	}
	for i, p := range per {
		if p < used/5 {
			t.Errorf("QEMU %d got %v of the VCH's %v: the core is not shared", pids[i], p, used)
		}
	}

	// A memory limit below what the VCH already uses: one line, nothing
	// changed (vchd not restarted, config as it was).
	vchdPid := pidOf(t, filepath.Join(v.root, "vchd.pid"))
	usage, err := g.MemoryUsage()
	if err != nil {
		t.Fatal(err)
	}
	if usage < 257<<20 {
		t.Fatalf("VCH uses %d MB with two filled VMs, expected more than 257 MB", usage>>20)
	}
	out, err = v.vicMachine("configure", "--name", v.name, "--memory", "257M")
	if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "--memory 257MB is below what VCH "+v.name+" already uses") || !strings.Contains(out, "use at least") {
		t.Fatalf("configure below use: %v\n%s", err, out)
	}
	if got := pidOf(t, filepath.Join(v.root, "vchd.pid")); got != vchdPid {
		t.Errorf("a refused configure restarted vchd (%d -> %d)", vchdPid, got)
	}
	if out, _ := v.vicMachine("inspect", "config", "--name", v.name); !strings.Contains(out, "--memory 3072MB") {
		t.Errorf("a refused configure changed the config:\n%s", out)
	}
	// Other bad input, each one line.
	for _, bad := range [][]string{{"--cpu", "lots"}, {"--cpu-reservation", "2cores", "--cpu", "1core"}, {"--memory-shares", "medium"}, {"--memory", "100M"}} {
		out, err := v.vicMachine(append([]string{"configure", "--name", v.name}, bad...)...)
		if err == nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("configure %v: %v\n%s", bad, err, out)
		}
	}

	// Raise the limit with the containers running.
	out, err = v.vicMachine("configure", "--name", v.name, "--cpu", "2cores", "--memory-shares", "low")
	if err != nil {
		t.Fatalf("configure --cpu 2cores: %v\n%s", err, out)
	}
	if !g.V2 {
		if q := cgroupValue(t, g, "cpu", "cpu.cfs_quota_us"); q != "200000" {
			t.Errorf("after configure cpu.cfs_quota_us = %s, want 200000", q)
		}
	}
	if st := v.must(t, "inspect", "--format", "{{.State.Running}}", "busy1", "busy2"); st != "true\ntrue\n" {
		t.Errorf("containers after configure: %q", st)
	}
	info = v.must(t, "info")
	if !strings.Contains(info, "VCH CPU limit: 2cores") || !strings.Contains(info, "VCH memory shares: low") {
		t.Errorf("docker info after configure:\n%s", info)
	}
	v.must(t, "rm", "-f", "busy1", "busy2")
}
