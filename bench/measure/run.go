package measure

import (
	"context"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// Run is measurement 1: wall time of `docker run --rm busybox true`.
func Run() Measurement {
	const sec = "1. Run latency"
	return Measurement{
		Name: "run",
		Define: func(env *Env) {
			env.Report.Define(sec, "run.median", "`docker run --rm busybox true`, median", "s", report.Lower)
			env.Report.Define(sec, "run.p90", "`docker run --rm busybox true`, p90", "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			// one warm-up run, not counted: it pays for first-use caches
			if _, err := timeCLI(ctx, t, "run", "--rm", env.Images.Busybox, "true"); err != nil {
				return err
			}
			var ds []time.Duration
			for i := 0; i < env.Runs; i++ {
				d, err := timeCLI(ctx, t, "run", "--rm", env.Images.Busybox, "true")
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			xs := stats.Seconds(ds)
			med, _ := stats.Median(xs)
			p90, _ := stats.Percentile(xs, 90)
			set(env, t, "run.median", med)
			set(env, t, "run.p90", p90)
			return nil
		},
	}
}
