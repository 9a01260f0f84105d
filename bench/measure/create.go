package measure

import (
	"context"
	"fmt"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
)

const (
	createCount    = 100
	createParallel = 10
)

// Create is measurement 5: 100 `docker create` CLI calls, 10 at a time.
func Create() Measurement {
	const sec = "5. Create throughput"
	return Measurement{
		Name: "create",
		Define: func(env *Env) {
			env.Report.Define(sec, "create.total", fmt.Sprintf("%d `docker create`, %d in parallel: total", createCount, createParallel), "s", report.Lower)
			env.Report.Define(sec, "create.rate", "creates per second", "1/s", report.Higher)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			start := time.Now()
			err := parallel(ctx, createCount, createParallel, func(ctx context.Context, i int) error {
				_, err := t.CLI(ctx, "create", "--name", fmt.Sprintf("bench-create-%d", i), env.Images.Busybox, "true")
				return err
			})
			total := time.Since(start)
			if err != nil {
				return err
			}
			set(env, t, "create.total", total.Seconds())
			set(env, t, "create.rate", createCount/total.Seconds())
			return nil
		},
	}
}
