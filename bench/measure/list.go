package measure

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// List is measurement 4: latency of `docker ps -a` with ListCount
// containers created. The containers are made by parallel API calls (the
// fast path, not what is measured).
func List() Measurement {
	const sec = "4. Listing"
	return Measurement{
		Name: "list",
		Define: func(env *Env) {
			env.Report.Define(sec, "list.median", fmt.Sprintf("`docker ps -a` with %d containers, median", env.ListCount), "s", report.Lower)
			env.Report.Define(sec, "list.p90", fmt.Sprintf("`docker ps -a` with %d containers, p90", env.ListCount), "s", report.Lower)
			env.Report.Define(sec, "list.setup", fmt.Sprintf("setup: %d creates by API, 16 in parallel (not the listing)", env.ListCount), "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			start := time.Now()
			err := parallel(ctx, env.ListCount, 16, func(ctx context.Context, i int) error {
				_, err := t.API.ContainerCreate(ctx, &container.Config{Image: env.Images.Busybox, Cmd: []string{"true"}},
					nil, nil, nil, fmt.Sprintf("bench-ls-%d", i))
				if err != nil {
					return fmt.Errorf("%s: create %d: %w", t.Name, i, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			set(env, t, "list.setup", time.Since(start).Seconds())
			out, err := t.CLI(ctx, "ps", "-a", "-q", "--no-trunc")
			if err != nil {
				return err
			}
			if n := len(strings.Fields(out)); n < env.ListCount {
				return fmt.Errorf("%s: docker ps -a lists %d containers, want %d", t.Name, n, env.ListCount)
			}
			var ds []time.Duration
			for i := 0; i < env.Runs; i++ {
				d, err := timeCLI(ctx, t, "ps", "-a")
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			xs := stats.Seconds(ds)
			med, _ := stats.Median(xs)
			p90, _ := stats.Percentile(xs, 90)
			setSamples(env, t, "list.median", med, xs)
			set(env, t, "list.p90", p90)
			return nil
		},
	}
}
