package measure

import (
	"context"
	"fmt"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// Run is measurement 1: wall time of `docker run --rm busybox true`. The
// targets take turns, run by run (alternating which goes first), so that
// both see the same drift in the machine's load.
func Run() Measurement {
	const sec = "1. Run latency"
	return Measurement{
		Name: "run",
		Define: func(env *Env) {
			env.Report.Define(sec, "run.median", "`docker run --rm busybox true`, median", "s", report.Lower)
			env.Report.Define(sec, "run.p90", "`docker run --rm busybox true`, p90", "s", report.Lower)
		},
		RunAll: func(ctx context.Context, env *Env, targets []*harness.Target) error {
			durs := map[*harness.Target][]time.Duration{}
			failed := map[*harness.Target]error{}
			once := func(t *harness.Target) (time.Duration, error) {
				return timeCLI(ctx, t, "run", "--rm", env.Images.Busybox, "true")
			}
			// one warm-up run each, not counted: it pays for first-use caches
			for _, t := range targets {
				if _, err := once(t); err != nil {
					failed[t] = err
				}
			}
			for i := 0; i < env.Runs && ctx.Err() == nil; i++ {
				for j := range targets {
					t := targets[(i+j)%len(targets)]
					if failed[t] != nil {
						continue
					}
					d, err := once(t)
					if err != nil {
						failed[t] = err
						continue
					}
					durs[t] = append(durs[t], d)
				}
			}
			var first error
			for _, t := range targets {
				if err := failed[t]; err != nil {
					na(env, t, "run.median", fmt.Sprintf("failed: %v", err))
					na(env, t, "run.p90", fmt.Sprintf("failed: %v", err))
					if first == nil {
						first = err
					}
					continue
				}
				xs := stats.Seconds(durs[t])
				med, ok := stats.Median(xs)
				if !ok {
					continue
				}
				p90, _ := stats.Percentile(xs, 90)
				setSamples(env, t, "run.median", med, xs)
				set(env, t, "run.p90", p90)
			}
			if first == nil {
				first = ctx.Err()
			}
			return first
		},
	}
}
