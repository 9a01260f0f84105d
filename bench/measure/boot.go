package measure

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// knownSteps are the boot steps vch records, in order, with what the time
// up to each one is spent on.
var knownSteps = []struct{ name, label string }{
	{"launch", "create → QEMU launched (`launch`)"},
	{"tether", "→ tether ready (`tether`)"},
	{"mounted", "→ root filesystem mounted (`mounted`)"},
	{"process-started", "→ process started (`process-started`)"},
	{"process-exited", "→ process exited (`process-exited`)"},
	{"poweroff", "→ tether powers off (`poweroff`)"},
	{"vm-exited", "→ VM exited, QEMU gone (`vm-exited`)"},
}

// Boot is measurement 2: where a container VM's start goes, from vch's own
// step timestamps, for `docker run busybox true`. dockerd has no steps; both
// get the totals from inspect's Created, StartedAt and FinishedAt.
func Boot() Measurement {
	const sec = "2. Boot breakdown (`docker run busybox true`, medians)"
	return Measurement{
		Name: "boot",
		Define: func(env *Env) {
			for _, s := range knownSteps {
				env.Report.Define(sec, "boot.step."+s.name, s.label, "s", report.Lower)
				if s.name == "tether" {
					env.Report.Define(sec, "boot.qemu", "↳ of which QEMU start-up and early kernel, until the guest clock starts (derived)", "s", report.Lower)
					env.Report.Define(sec, "boot.kernel", "↳ of which guest clock start → tether ready: kernel boot, modules, ports (derived)", "s", report.Lower)
				}
			}
			env.Report.Define(sec, "boot.started", "total: create → process started", "s", report.Lower)
			env.Report.Define(sec, "boot.exited", "total: create → process exited", "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			durs := map[string][]float64{}
			var order []string
			var started, exited, qemu, kernel []float64
			for i := 0; i < env.Runs; i++ {
				name := fmt.Sprintf("bench-boot-%d", i)
				if _, err := t.CLI(ctx, "run", "--name", name, env.Images.Busybox, "true"); err != nil {
					return err
				}
				info, raw, err := t.API.ContainerInspectWithRaw(ctx, name, false)
				if err != nil {
					return fmt.Errorf("%s: inspect %s: %w", t.Name, name, err)
				}
				created, err1 := time.Parse(time.RFC3339Nano, info.Created)
				st, err2 := time.Parse(time.RFC3339Nano, info.State.StartedAt)
				fin, err3 := time.Parse(time.RFC3339Nano, info.State.FinishedAt)
				if err1 != nil || err2 != nil || err3 != nil {
					return fmt.Errorf("%s: inspect %s: bad timestamps %q %q %q", t.Name, name, info.Created, info.State.StartedAt, info.State.FinishedAt)
				}
				steps := FindSteps(raw)
				if steps == nil && t.Name == report.VCH && t.StateDir != "" {
					steps, _ = StepsFromState(t.StateDir, info.ID)
				}
				// time order: events read from the log after the VM ended
				// are recorded after vm-exited but happened before it
				slices.SortStableFunc(steps, func(a, b Step) int { return a.At.Compare(b.At) })
				if split, ok := SplitBoot(t.StateDir, info.ID, steps); ok && t.StateDir != "" {
					qemu = append(qemu, split.QEMU.Seconds())
					kernel = append(kernel, split.Kernel.Seconds())
				}
				prev := created
				for _, s := range steps {
					if _, ok := durs[s.Name]; !ok {
						order = append(order, s.Name)
					}
					durs[s.Name] = append(durs[s.Name], s.At.Sub(prev).Seconds())
					prev = s.At
					switch s.Name {
					case "process-started":
						st = s.At
					case "process-exited":
						fin = s.At
					}
				}
				started = append(started, st.Sub(created).Seconds())
				exited = append(exited, fin.Sub(created).Seconds())
				if err := t.API.ContainerRemove(ctx, name, container.RemoveOptions{Force: true}); err != nil {
					return fmt.Errorf("%s: remove %s: %w", t.Name, name, err)
				}
			}
			for _, name := range order {
				key := "boot.step." + name
				if env.Report.Row(key) == nil {
					env.Report.Define(sec, key, fmt.Sprintf("→ `%s`", name), "s", report.Lower)
					na(env, otherTarget(t), key, "not recorded")
				}
				med, _ := stats.Median(durs[name])
				set(env, t, key, med)
			}
			for _, s := range knownSteps {
				if _, ok := durs[s.name]; !ok {
					if t.Name == report.Dockerd {
						na(env, t, "boot.step."+s.name, "no VM: runc starts the process directly")
					} else {
						na(env, t, "boot.step."+s.name, "step not recorded")
					}
				}
			}
			if med, ok := stats.Median(qemu); ok {
				set(env, t, "boot.qemu", med)
				med, _ = stats.Median(kernel)
				set(env, t, "boot.kernel", med)
			} else {
				reason := "no VM: runc starts the process directly"
				if t.Name == report.VCH {
					reason = "no mounted event with a guest timestamp in output.log"
				}
				na(env, t, "boot.qemu", reason)
				na(env, t, "boot.kernel", reason)
			}
			med, _ := stats.Median(started)
			set(env, t, "boot.started", med)
			med, _ = stats.Median(exited)
			set(env, t, "boot.exited", med)
			return nil
		},
	}
}

func otherTarget(t *harness.Target) *harness.Target {
	if t.Name == report.VCH {
		return &harness.Target{Name: report.Dockerd}
	}
	return &harness.Target{Name: report.VCH}
}
