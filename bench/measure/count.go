package measure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// Defaults of the count measurement (vchbench -count-max, -count-floor).
const (
	DefaultCountMax      = 200
	DefaultCountFloorMiB = 2048
	// DefaultCountSlow: a start slower than this stops the count (the
	// host's CPUs are saturated; each further start only gets slower).
	DefaultCountSlow = 30 * time.Second
)

// countLast is how many of the last starts the start-time figures cover.
const countLast = 10

// countStartTimeout bounds one docker run -d; past it the start counts
// as failed and the count stops.
const countStartTimeout = 3 * time.Minute

// countBusyWindow is how long host CPU use is sampled with every
// container running idle.
const countBusyWindow = 10 * time.Second

// Count is measurement 14: how many idle containers (`busybox sleep`,
// docker run -d -m env.MemLimit) fit on this host. It starts them one
// after another until env.CountMax, a failed start, a start slower than
// env.CountSlow, or host MemAvailable below env.CountFloorMiB, whichever
// comes first, and says which. Then,
// with all of them running and settled: PSS per container (as the memory
// measurement counts it), host MemAvailable, load average and host CPU
// use. The containers are removed at the end.
func Count() Measurement {
	const sec = "14. Idle containers that fit"
	return Measurement{
		Name: "count",
		Define: func(env *Env) {
			env.Report.Define(sec, "count.reached", fmt.Sprintf("idle containers started, one after another, -m %s (stop at %d, a failed start, a start over %v or MemAvailable < %d MiB)",
				env.MemLimit, env.CountMax, env.CountSlow, env.CountFloorMiB), "containers", report.Higher)
			env.Report.Define(sec, "count.start.median", fmt.Sprintf("docker run -d of the last %d, median", countLast), "s", report.Lower)
			env.Report.Define(sec, "count.start.p90", fmt.Sprintf("docker run -d of the last %d, p90", countLast), "s", report.Lower)
			env.Report.Define(sec, "count.per", "PSS per container at the end (incl. daemon growth)", "MiB", report.Lower)
			env.Report.Define(sec, "count.container", "PSS per container at the end, container processes only", "MiB", report.Lower)
			env.Report.Define(sec, "count.avail.before", "host MemAvailable before the first start", "MiB", report.Higher)
			env.Report.Define(sec, "count.avail.after", "host MemAvailable with all of them running", "MiB", report.Higher)
			env.Report.Define(sec, "count.avail.per", "host MemAvailable taken per container", "MiB", report.Lower)
			env.Report.Define(sec, "count.load1", "load average (1 min) with all of them running idle", "", report.Lower)
			env.Report.Define(sec, "count.busy", fmt.Sprintf("host CPU busy with all of them running idle (%v window)", countBusyWindow), "%", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			daemonPid, err := t.DaemonPid()
			if err != nil {
				return err
			}
			base, _, err := sampleMemory(ctx, t, daemonPid, nil)
			if err != nil {
				return err
			}
			before, err := memAvailableMiB()
			if err != nil {
				return err
			}
			set(env, t, "count.avail.before", float64(before))
			var ids []string
			var starts []float64
			var loads []string
			reason := ""
			for reason == "" {
				avail, err := memAvailableMiB()
				if err != nil {
					return err
				}
				if reason = countStop(len(ids), env.CountMax, avail, env.CountFloorMiB); reason != "" {
					break
				}
				sctx, cancel := context.WithTimeout(ctx, countStartTimeout)
				start := time.Now()
				out, err := t.CLI(sctx, "run", "-d", "-m", env.MemLimit, "--name", fmt.Sprintf("bench-count-%d", len(ids)),
					env.Images.Busybox, "sleep", "86400")
				took := time.Since(start)
				cancel()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					env.Log.Warn("count: start failed", zap.String("target", string(t.Name)), zap.Int("running", len(ids)), zap.Error(err))
					reason = fmt.Sprintf("start %d failed after %.1f s: %s", len(ids)+1, took.Seconds(), oneLine(err.Error(), 1000))
					break
				}
				ids = append(ids, firstLine(out))
				starts = append(starts, took.Seconds())
				if reason = slowStop(len(ids), took, env.CountSlow); reason != "" {
					reason += " (load " + LoadAvg() + ")"
				}
				if len(ids)%10 == 0 {
					l, _ := parseLoad1(LoadAvg())
					loads = append(loads, strconv.FormatFloat(l, 'f', 1, 64))
					env.Log.Info("count", zap.String("target", string(t.Name)), zap.Int("running", len(ids)),
						zap.Duration("lastStart", took), zap.Int64("memAvailableMiB", avail), zap.String("load", LoadAvg()))
				}
			}
			n := len(ids)
			set(env, t, "count.reached", float64(n))
			env.Report.Note("count on %s: %d idle containers running; stopped because %s", t.Name, n, reason)
			env.Log.Info("count stopped", zap.String("target", string(t.Name)), zap.Int("running", n), zap.String("why", reason))
			if n == 0 {
				return errors.New(reason)
			}
			last := lastN(starts, countLast)
			if v, ok := stats.Median(last); ok {
				setSamples(env, t, "count.start.median", v, last)
			}
			if v, ok := stats.Percentile(last, 90); ok {
				set(env, t, "count.start.p90", v)
			}
			env.Report.Note("count on %s: docker run -d median by tens (s): %s; 1-min load average at every tenth: %s", t.Name,
				formatSeconds(medianByGroup(starts, 10)), strings.Join(loads, " "))
			settle := env.MemSettle
			if settle <= 0 {
				settle = DefaultSettle
			}
			select {
			case <-time.After(settle):
			case <-ctx.Done():
				return ctx.Err()
			}
			busy, err := hostBusy(ctx, countBusyWindow)
			if err != nil {
				return err
			}
			set(env, t, "count.busy", busy)
			if load1, err := parseLoad1(LoadAvg()); err == nil {
				set(env, t, "count.load1", load1)
			}
			daemon, ctrs, err := sampleMemory(ctx, t, daemonPid, ids)
			if err != nil {
				return err
			}
			growth := daemon.MiB() - base.MiB()
			set(env, t, "count.per", (ctrs.MiB()+growth)/float64(n))
			set(env, t, "count.container", ctrs.MiB()/float64(n))
			after, err := memAvailableMiB()
			if err != nil {
				return err
			}
			set(env, t, "count.avail.after", float64(after))
			set(env, t, "count.avail.per", float64(before-after)/float64(n))
			return ctx.Err()
		},
	}
}

// countStop says why the count stops before starting container n+1 (n
// running), or "" to go on.
func countStop(n, max int, availMiB, floorMiB int64) string {
	switch {
	case n >= max:
		return fmt.Sprintf("the maximum (%d) was reached", max)
	case availMiB < floorMiB:
		return fmt.Sprintf("host MemAvailable fell to %d MiB, below the %d MiB floor", availMiB, floorMiB)
	}
	return ""
}

// slowStop says why the count stops after start n took took (slow > 0
// is the ceiling), or "".
func slowStop(n int, took, slow time.Duration) string {
	if slow > 0 && took > slow {
		return fmt.Sprintf("start %d took %.1f s, over the %v ceiling: the host is saturated", n, took.Seconds(), slow)
	}
	return ""
}

// lastN is the last n of xs (all of them if fewer).
func lastN(xs []float64, n int) []float64 {
	if len(xs) <= n {
		return xs
	}
	return xs[len(xs)-n:]
}

// medianByGroup is the median of each run of size consecutive values (the
// last group may be shorter).
func medianByGroup(xs []float64, size int) []float64 {
	var out []float64
	for i := 0; i < len(xs); i += size {
		m, _ := stats.Median(xs[i:min(i+size, len(xs))])
		out = append(out, m)
	}
	return out
}

func formatSeconds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, " ")
}

// memAvailableMiB is the host's MemAvailable.
func memAvailableMiB() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	kib, err := parseMemAvailable(b)
	return kib / 1024, err
}

// parseMemAvailable reads MemAvailable (KiB) from /proc/meminfo's text.
func parseMemAvailable(meminfo []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// LoadAvg is the host's 1, 5 and 15 minute load averages ("unknown" if
// /proc/loadavg cannot be read).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// parseLoad1 is the 1-minute load average of a /proc/loadavg line.
func parseLoad1(line string) (float64, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return 0, errors.New("empty /proc/loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}

// cpuTicks are the host's CPU time counters (the "cpu" line of
// /proc/stat): busy is everything but idle and iowait.
type cpuTicks struct{ busy, total uint64 }

func parseCPUTicks(stat []byte) (cpuTicks, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return cpuTicks{}, fmt.Errorf("/proc/stat starts with %q, not the cpu line", line)
	}
	var c cpuTicks
	// user nice system idle iowait irq softirq steal (guest time is
	// already in user and nice).
	for i, s := range f[1:min(len(f), 9)] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cpuTicks{}, fmt.Errorf("/proc/stat cpu line: %w", err)
		}
		c.total += v
		if i != 3 && i != 4 {
			c.busy += v
		}
	}
	return c, nil
}

// busyPercent is the share of CPU time spent busy between two samples.
func busyPercent(a, b cpuTicks) float64 {
	if b.total <= a.total {
		return 0
	}
	return 100 * float64(b.busy-a.busy) / float64(b.total-a.total)
}

// hostBusy samples the host's CPU use over window.
func hostBusy(ctx context.Context, window time.Duration) (float64, error) {
	read := func() (cpuTicks, error) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return cpuTicks{}, err
		}
		return parseCPUTicks(b)
	}
	a, err := read()
	if err != nil {
		return 0, err
	}
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	b, err := read()
	if err != nil {
		return 0, err
	}
	return busyPercent(a, b), nil
}

// oneLine is s on one line, cut to n bytes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
