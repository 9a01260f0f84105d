package measure

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// statsCount is how many running containers `docker stats` reports on.
const statsCount = 20

// Stats is measurement 13: `docker stats --no-stream` with statsCount
// idle containers running. The CLI asks every container for one stats
// sample (stream=false) in parallel; for vch each answer is measured
// inside the VM by its tether.
func Stats() Measurement {
	const sec = "13. Stats"
	return Measurement{
		Name: "stats",
		Define: func(env *Env) {
			env.Report.Define(sec, "stats.median", fmt.Sprintf("`docker stats --no-stream`, %d running, median", statsCount), "s", report.Lower)
			env.Report.Define(sec, "stats.p90", fmt.Sprintf("`docker stats --no-stream`, %d running, p90", statsCount), "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			err := parallel(ctx, statsCount, 4, func(ctx context.Context, i int) error {
				_, err := t.CLI(ctx, "run", "-d", "-m", env.MemLimit, "--name", fmt.Sprintf("bench-stats-%d", i), env.Images.Busybox, "sleep", "86400")
				return err
			})
			if err != nil {
				return err
			}
			// one warm-up, not counted; it also checks every container
			// is reported
			out, err := t.CLI(ctx, "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}}")
			if err != nil {
				return err
			}
			if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != statsCount {
				return fmt.Errorf("%s: docker stats --no-stream reports %d containers, want %d:\n%s", t.Name, n, statsCount, out)
			}
			var ds []time.Duration
			for i := 0; i < env.Runs && ctx.Err() == nil; i++ {
				d, err := timeCLI(ctx, t, "stats", "--no-stream")
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			xs := stats.Seconds(ds)
			if med, ok := stats.Median(xs); ok {
				p90, _ := stats.Percentile(xs, 90)
				setSamples(env, t, "stats.median", med, xs)
				set(env, t, "stats.p90", p90)
			}
			return ctx.Err()
		},
	}
}
