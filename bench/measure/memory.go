package measure

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/procmem"
	"github.com/vchproject/vch/bench/report"
)

// DefaultSettle is how long idle containers are left before their memory
// is read, so boot-time allocations (page cache of the image, TCG's
// translation of boot code) have happened and the figure is the steady
// idle state. Env.MemSettle overrides it (KSM needs minutes to merge).
const DefaultSettle = 10 * time.Second

// Memory is measurement 3: host memory per idle running container
// (`sleep`) at each of env.MemoryCounts containers. Memory is PSS summed
// over each container's host processes (QEMU for vch; containerd-shim and
// the container's processes for dockerd) plus the daemon's own growth
// (vchd; dockerd and its containerd) since before the first container.
func Memory() Measurement {
	const sec = "3. Idle memory (PSS)"
	return Measurement{
		Name: "memory",
		Define: func(env *Env) {
			for _, n := range env.MemoryCounts {
				env.Report.Define(sec, fmt.Sprintf("mem.%d.per", n), fmt.Sprintf("per idle container, %d running (incl. daemon growth)", n), "MiB", report.Lower)
				env.Report.Define(sec, fmt.Sprintf("mem.%d.container", n), fmt.Sprintf("container processes only, per container, %d running", n), "MiB", report.Lower)
				env.Report.Define(sec, fmt.Sprintf("mem.%d.daemon", n), fmt.Sprintf("daemon growth, %d running", n), "MiB", report.Lower)
				for _, part := range breakdownRows {
					env.Report.Define(sec, fmt.Sprintf("mem.%d.%s", n, part.key), fmt.Sprintf("%s, per container, %d running", part.label, n), "MiB", report.Lower)
				}
				env.Report.Define(sec, fmt.Sprintf("mem.%d.template", n), fmt.Sprintf("template files resident (page cache or shm, counted once, not in PSS), %d running", n), "MiB", report.Lower)
			}
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			daemonPid, err := t.DaemonPid()
			if err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			base, _, err := sampleMemory(ctx, t, daemonPid, nil)
			if err != nil {
				return err
			}
			var ids []string
			for _, n := range env.MemoryCounts {
				from := len(ids)
				more := make([]string, n-from)
				err := parallel(ctx, n-from, 4, func(ctx context.Context, i int) error {
					out, err := t.CLI(ctx, "run", "-d", "-m", env.MemLimit, "--name", fmt.Sprintf("bench-mem-%d", from+i),
						env.Images.Busybox, "sleep", "86400")
					if err != nil {
						return err
					}
					more[i] = firstLine(out)
					return nil
				})
				if err != nil {
					return err
				}
				ids = append(ids, more...)
				settle := env.MemSettle
				if settle <= 0 {
					settle = DefaultSettle
				}
				select {
				case <-time.After(settle):
				case <-ctx.Done():
					return ctx.Err()
				}
				daemon, ctrs, err := sampleMemory(ctx, t, daemonPid, ids)
				if err != nil {
					return err
				}
				if err := setBreakdown(ctx, env, t, n, ids); err != nil {
					return err
				}
				growth := daemon.MiB() - base.MiB()
				set(env, t, fmt.Sprintf("mem.%d.per", n), (ctrs.MiB()+growth)/float64(n))
				set(env, t, fmt.Sprintf("mem.%d.container", n), ctrs.MiB()/float64(n))
				set(env, t, fmt.Sprintf("mem.%d.daemon", n), growth)
				if n == env.MemoryCounts[0] {
					noteMappings(env, t, ids[0])
				}
				env.Log.Info("memory", zap.String("target", string(t.Name)), zap.Int("containers", n),
					zap.Int64("containerPSSKiB", ctrs.PSSKiB), zap.Int64("containerRSSKiB", ctrs.RSSKiB),
					zap.Int("containerProcs", ctrs.Pids), zap.Int64("daemonPSSKiB", daemon.PSSKiB))
			}
			return nil
		},
	}
}

// breakdownRows are the parts of a container's PSS (procmem.Breakdown).
var breakdownRows = []struct {
	key, label string
	kib        func(procmem.Breakdown) int64
}{
	{"anon", "of which anonymous (incl. copies of template pages)", func(b procmem.Breakdown) int64 { return b.AnonKiB }},
	{"tplshared", "of which template RAM pages shared with other clones", func(b procmem.Breakdown) int64 { return b.TemplateKiB }},
	{"binary", "of which executables and libraries (QEMU; shim, runc)", func(b procmem.Breakdown) int64 { return b.BinaryKiB }},
	{"files", "of which other files and shared memory", func(b procmem.Breakdown) int64 { return b.OtherKiB }},
}

// setBreakdown records where the containers' PSS sits, per container, and
// how much of the target's template files is resident. Only vch has
// templates: files named ram in a templates directory below its state.
func setBreakdown(ctx context.Context, env *Env, t *harness.Target, n int, ids []string) error {
	pids, err := containerPids(ctx, t, ids)
	if err != nil {
		return err
	}
	var tplFiles []string
	tplRAM := map[string]bool{}
	if t.StateDir != "" {
		_ = filepath.WalkDir(t.StateDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Base(filepath.Dir(filepath.Dir(path))) != "templates" {
				return nil
			}
			tplFiles = append(tplFiles, path)
			if d.Name() == "ram" {
				tplRAM[path] = true
			}
			return nil
		})
	}
	b, err := procmem.BreakdownOf(pids, func(path string) bool { return tplRAM[path] })
	if err != nil {
		return err
	}
	for _, part := range breakdownRows {
		set(env, t, fmt.Sprintf("mem.%d.%s", n, part.key), float64(part.kib(b))/1024/float64(n))
	}
	var resident int64
	for _, f := range tplFiles {
		r, err := procmem.Resident(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue // replaced meanwhile (a template rebuilt in the background)
		}
		if err != nil {
			return err
		}
		resident += r
	}
	set(env, t, fmt.Sprintf("mem.%d.template", n), float64(resident)/(1<<20))
	env.Log.Info("memory breakdown", zap.String("target", string(t.Name)), zap.Int("containers", n),
		zap.Int64("anonKiB", b.AnonKiB), zap.Int64("templateKiB", b.TemplateKiB), zap.Int64("binaryKiB", b.BinaryKiB),
		zap.Int64("otherKiB", b.OtherKiB), zap.Int("templateFiles", len(tplFiles)), zap.Int64("templateResidentBytes", resident))
	return nil
}

// containerPids are the host processes of the containers ids.
func containerPids(ctx context.Context, t *harness.Target, ids []string) ([]int, error) {
	var pids []int
	for _, id := range ids {
		info, err := t.API.ContainerInspect(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("%s: inspect %s: %w", t.Name, id, err)
		}
		if info.State == nil || !info.State.Running || info.State.Pid <= 0 {
			return nil, fmt.Errorf("%s: container %s is not running with a host pid", t.Name, id)
		}
		pids = append(pids, info.State.Pid)
	}
	table, err := procmem.Table()
	if err != nil {
		return nil, err
	}
	var ctrPids []int
	for _, pid := range pids {
		ctrPids = append(ctrPids, harness.ContainerProcs(table, pid)...)
	}
	slices.Sort(ctrPids)
	return slices.Compact(ctrPids), nil
}

// sampleMemory measures the daemon's processes (its tree less any container
// process) and the containers' processes, at one moment.
func sampleMemory(ctx context.Context, t *harness.Target, daemonPid int, ids []string) (daemon, ctrs procmem.Sample, err error) {
	ctrPids, err := containerPids(ctx, t, ids)
	if err != nil {
		return daemon, ctrs, err
	}
	table, err := procmem.Table()
	if err != nil {
		return daemon, ctrs, err
	}
	var daemonPids []int
	for _, p := range procmem.Descendants(table, daemonPid) {
		if _, found := slices.BinarySearch(ctrPids, p); !found {
			daemonPids = append(daemonPids, p)
		}
	}
	if ctrs, err = procmem.Measure(ctrPids); err != nil {
		return daemon, ctrs, err
	}
	if daemon, err = procmem.Measure(daemonPids); err != nil {
		return daemon, ctrs, err
	}
	return daemon, ctrs, nil
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// noteMappings records where one idle container's host memory sits: the
// largest mappings of its biggest process (QEMU for vch, the shim for
// dockerd).
func noteMappings(env *Env, t *harness.Target, id string) {
	info, err := t.API.ContainerInspect(context.Background(), id)
	if err != nil || info.State == nil || info.State.Pid <= 0 {
		return
	}
	table, err := procmem.Table()
	if err != nil {
		return
	}
	biggest, most := 0, int64(-1)
	for _, pid := range harness.ContainerProcs(table, info.State.Pid) {
		s, err := procmem.Measure([]int{pid})
		if err == nil && s.PSSKiB > most {
			biggest, most = pid, s.PSSKiB
		}
	}
	top, err := procmem.TopMappings(biggest, 4)
	if err != nil {
		return
	}
	comm := ""
	for _, p := range table {
		if p.Pid == biggest {
			comm = p.Comm
		}
	}
	parts := make([]string, len(top))
	for i, m := range top {
		parts[i] = m.String()
	}
	env.Report.Note("%s: one idle container's largest process (%s, PSS %.1f MiB), largest mappings: %s",
		t.Name, comm, float64(most)/1024, strings.Join(parts, "; "))
}
