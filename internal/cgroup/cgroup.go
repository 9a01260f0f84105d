// Package cgroup makes and drives the one control group that holds a
// VCH's processes (vchd and the QEMU of every container VM). It uses
// cgroup v1 (controllers cpu, cpuacct, memory, pids) where those are
// mounted, else the unified cgroup v2 hierarchy.
//
// The group is made under the creating process's own cgroup in each
// hierarchy, so a VCH started inside a limited cgroup stays inside it.
package cgroup

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vchproject/vch/internal/atomicfile"
)

// v1Controllers are the v1 hierarchies a group spans.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids"}

// Group is one cgroup, made in every hierarchy that matters.
type Group struct {
	// V2 is set for the unified hierarchy; Dirs then has the key "".
	V2 bool `json:"v2,omitempty"`
	// Dirs maps a v1 controller to the group's directory.
	Dirs map[string]string `json:"dirs"`
}

// Settings are the kernel values applied to a group; zero means "no
// limit" (and default weight).
type Settings struct {
	CPUQuotaUS  int64  // CFS quota per CPUPeriodUS; 0: unlimited
	CPUPeriodUS int64  // CFS period
	CPUShares   uint64 // v1 cpu.shares; 0: kernel default
	CPUWeight   uint64 // v2 cpu.weight; 0: kernel default
	MemoryLimit int64  // bytes; 0: unlimited
	MemorySoft  int64  // bytes kept under pressure (v1 soft limit, v2 memory.low); 0: none
}

// mountinfo finds the mount points of cgroup hierarchies: v1 by
// controller, v2 under the key "".
func mountinfo() (map[string]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts... - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		switch tail[0] {
		case "cgroup2":
			if _, ok := out[""]; !ok {
				out[""] = fields[4]
			}
		case "cgroup":
			for _, opt := range strings.Split(tail[2], ",") {
				if _, ok := out[opt]; !ok {
					out[opt] = fields[4]
				}
			}
		}
	}
	return out, sc.Err()
}

// selfPaths is /proc/self/cgroup: controller (or "" for v2) -> path.
func selfPaths() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroup: %w", err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out, nil
}

// Create makes (or finds) the group called name under this process's
// own cgroups. v1 is used when its cpu and memory controllers are
// mounted; otherwise v2 with cpu and memory enabled for the group.
func Create(name string) (*Group, error) {
	mounts, err := mountinfo()
	if err != nil {
		return nil, err
	}
	self, err := selfPaths()
	if err != nil {
		return nil, err
	}
	g := &Group{Dirs: map[string]string{}}
	if mounts["cpu"] != "" && mounts["memory"] != "" {
		for _, c := range v1Controllers {
			m := mounts[c]
			if m == "" {
				continue
			}
			g.Dirs[c] = filepath.Join(m, self[c], name)
		}
	} else if m := mounts[""]; m != "" {
		g.V2 = true
		parent := filepath.Join(m, self[""])
		// A v2 group can only hold processes in a leaf; enable the
		// controllers for the parent's children (best effort: a parent
		// with processes refuses, then limits will fail to apply).
		_ = os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte("+cpu +memory +pids"), 0)
		g.Dirs[""] = filepath.Join(parent, name)
	} else {
		return nil, errors.New("no cgroup hierarchy is mounted (want cgroup v1 cpu and memory, or cgroup2)")
	}
	if err := g.ensure(); err != nil {
		return nil, err
	}
	return g, nil
}

// ensure makes the group's directories (again, e.g. after a reboot).
func (g *Group) ensure() error {
	for _, d := range g.Dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make cgroup: %w", err)
		}
	}
	if d := g.Dirs["memory"]; d != "" {
		// Charge a process's memory to the group it moves into (v1;
		// deprecated in newer kernels, so best effort).
		_ = os.WriteFile(filepath.Join(d, "memory.move_charge_at_immigrate"), []byte("3"), 0)
	}
	return nil
}

// Load reads a group saved with Save (Ensure remakes its directories
// after a host reboot emptied cgroupfs). It returns nil, nil when the
// file does not exist.
func Load(path string) (*Group, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cgroup record: %w", err)
	}
	g := new(Group)
	if err := json.Unmarshal(b, g); err != nil || len(g.Dirs) == 0 {
		return nil, fmt.Errorf("cgroup record %s is damaged: %v", path, err)
	}
	return g, nil
}

// Save records the group's directories.
func (g *Group) Save(path string) error {
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'), 0o600)
}

// Exists reports whether the group's directories are all there.
func (g *Group) Exists() bool {
	for _, d := range g.Dirs {
		if _, err := os.Stat(d); err != nil {
			return false
		}
	}
	return true
}

// Ensure remakes missing directories.
func (g *Group) Ensure() error { return g.ensure() }

func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("set cgroup %s to %s: %w", file, value, err)
	}
	return nil
}

// Apply writes s into the group.
func (g *Group) Apply(s Settings) error {
	if s.CPUPeriodUS == 0 {
		s.CPUPeriodUS = 100000
	}
	if g.V2 {
		d := g.Dirs[""]
		cpuMax := "max " + strconv.FormatInt(s.CPUPeriodUS, 10)
		if s.CPUQuotaUS > 0 {
			cpuMax = fmt.Sprintf("%d %d", s.CPUQuotaUS, s.CPUPeriodUS)
		}
		weight := s.CPUWeight
		if weight == 0 {
			weight = 100
		}
		mem, low := "max", "0"
		if s.MemoryLimit > 0 {
			mem = strconv.FormatInt(s.MemoryLimit, 10)
		}
		if s.MemorySoft > 0 {
			low = strconv.FormatInt(s.MemorySoft, 10)
		}
		return errors.Join(write(d, "cpu.max", cpuMax), write(d, "cpu.weight", strconv.FormatUint(weight, 10)),
			write(d, "memory.max", mem), write(d, "memory.low", low))
	}
	var errs []error
	if d := g.Dirs["cpu"]; d != "" {
		shares := s.CPUShares
		if shares == 0 {
			shares = 1024
		}
		quota := int64(-1)
		if s.CPUQuotaUS > 0 {
			quota = s.CPUQuotaUS
		}
		// Lift the quota before changing the period so that no
		// intermediate pair is refused.
		errs = append(errs, write(d, "cpu.cfs_quota_us", "-1"),
			write(d, "cpu.cfs_period_us", strconv.FormatInt(s.CPUPeriodUS, 10)),
			write(d, "cpu.cfs_quota_us", strconv.FormatInt(quota, 10)),
			write(d, "cpu.shares", strconv.FormatUint(shares, 10)))
	}
	if d := g.Dirs["memory"]; d != "" {
		limit, soft := "-1", "-1"
		if s.MemoryLimit > 0 {
			limit = strconv.FormatInt(s.MemoryLimit, 10)
		}
		if s.MemorySoft > 0 {
			soft = strconv.FormatInt(s.MemorySoft, 10)
		}
		errs = append(errs, write(d, "memory.limit_in_bytes", limit), write(d, "memory.soft_limit_in_bytes", soft))
	}
	return errors.Join(errs...)
}

// Add moves a process into the group in every hierarchy; its children
// are born there.
func (g *Group) Add(pid int) error {
	var errs []error
	for _, d := range g.Dirs {
		errs = append(errs, write(d, "cgroup.procs", strconv.Itoa(pid)))
	}
	return errors.Join(errs...)
}

// Procs lists the processes in the group.
func (g *Group) Procs() ([]int, error) {
	d := g.Dirs[""]
	if !g.V2 {
		d = g.Dirs["cpu"]
	}
	b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return nil, fmt.Errorf("list cgroup processes: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// MemoryUsage is the memory charged to the group, in bytes.
func (g *Group) MemoryUsage() (int64, error) {
	var n int64
	var err error
	if g.V2 {
		n, err = readInt(filepath.Join(g.Dirs[""], "memory.current"))
	} else {
		n, err = readInt(filepath.Join(g.Dirs["memory"], "memory.usage_in_bytes"))
	}
	if err != nil {
		return 0, fmt.Errorf("read cgroup memory usage: %w", err)
	}
	return n, nil
}

// CPUUsage is the CPU time the group's processes used since it was made.
func (g *Group) CPUUsage() (time.Duration, error) {
	if g.V2 {
		b, err := os.ReadFile(filepath.Join(g.Dirs[""], "cpu.stat"))
		if err != nil {
			return 0, fmt.Errorf("read cgroup CPU usage: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return time.Duration(us) * time.Microsecond, err
			}
		}
		return 0, errors.New("cgroup cpu.stat has no usage_usec")
	}
	ns, err := readInt(filepath.Join(g.Dirs["cpuacct"], "cpuacct.usage"))
	if err != nil {
		return 0, fmt.Errorf("read cgroup CPU usage: %w", err)
	}
	return time.Duration(ns), nil
}

// Throttled is how many CFS periods the group hit its quota in.
func (g *Group) Throttled() (int64, error) {
	d := g.Dirs["cpu"]
	if g.V2 {
		d = g.Dirs[""]
	}
	b, err := os.ReadFile(filepath.Join(d, "cpu.stat"))
	if err != nil {
		return 0, fmt.Errorf("read cgroup cpu.stat: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "nr_throttled "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("cgroup cpu.stat has no nr_throttled")
}

// Remove deletes the group's directories. Processes still in it keep it
// busy (EBUSY); they are moved to the parent group first.
func (g *Group) Remove() error {
	var errs []error
	for _, d := range g.Dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil {
			for _, p := range strings.Fields(string(b)) {
				_ = os.WriteFile(filepath.Join(filepath.Dir(d), "cgroup.procs"), []byte(p), 0)
			}
		}
		if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}
