package measure

import (
	"context"
	"fmt"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// Push is measurement 9: `docker push` of the ~100 MB multi-layer image
// to an empty registry (a fresh one per push, so that no layer is already
// there or mountable and every byte goes up).
func Push() Measurement {
	const sec = "9. Push"
	return Measurement{
		Name: "push",
		Define: func(env *Env) {
			env.Report.Define(sec, "push.median", "`docker push` of the ~100 MB multi-layer image to an empty registry, median", "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			if env.Images.Big == "" || env.NewRegistry == nil {
				na(env, t, "push.median", "no large image or no registry to push to")
				return nil
			}
			if _, err := t.API.ImageInspect(ctx, env.Images.Big); err != nil {
				if _, err := t.CLI(ctx, "pull", "-q", env.Images.Big); err != nil {
					return fmt.Errorf("pull %s: %w", env.Images.Big, err)
				}
			}
			defer func() { _ = removeImage(context.WithoutCancel(ctx), t, env.Images.Big) }()
			reps := min(env.Runs, pullReps)
			var ds []time.Duration
			for i := 0; i < reps; i++ {
				addr, stop, err := env.NewRegistry()
				if err != nil {
					return err
				}
				ref := fmt.Sprintf("%s/bench/pushed-%s:%d", addr, t.Name, i)
				d, err := func() (time.Duration, error) {
					defer stop()
					if _, err := t.CLI(ctx, "tag", env.Images.Big, ref); err != nil {
						return 0, err
					}
					defer func() { _, _ = t.CLI(context.WithoutCancel(ctx), "rmi", ref) }()
					return timeCLI(ctx, t, "push", "-q", ref)
				}()
				if err != nil {
					return fmt.Errorf("push %s: %w", ref, err)
				}
				ds = append(ds, d)
			}
			xs := stats.Seconds(ds)
			med, _ := stats.Median(xs)
			setSamples(env, t, "push.median", med, xs)
			return nil
		},
	}
}
