package measure

import (
	"context"
	"time"

	"github.com/docker/docker/api/types/image"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// pullReps caps the repetitions of the pull (each moves ~100 MB).
const pullReps = 3

// Pull is measurement 6: `docker pull` of the ~100 MB multi-layer image
// from the local registry, the image removed before each pull.
func Pull() Measurement {
	const sec = "6. Pull"
	return Measurement{
		Name: "pull",
		Define: func(env *Env) {
			env.Report.Define(sec, "pull.median", "`docker pull` of a ~100 MB multi-layer image, median", "s", report.Lower)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			if env.Images.Big == "" {
				na(env, t, "pull.median", "no large image in the fixture")
				return nil
			}
			reps := min(env.Runs, pullReps)
			var ds []time.Duration
			for i := 0; i < reps; i++ {
				if err := removeImage(ctx, t, env.Images.Big); err != nil {
					return err
				}
				d, err := timeCLI(ctx, t, "pull", "-q", env.Images.Big)
				if err != nil {
					return err
				}
				ds = append(ds, d)
			}
			xs := stats.Seconds(ds)
			med, _ := stats.Median(xs)
			setSamples(env, t, "pull.median", med, xs)
			if img, err := t.API.ImageInspect(ctx, env.Images.Big); err == nil {
				env.Report.Note("%s: pulled image %s: %d layers, %.0f MB as the daemon reports its size",
					t.Name, env.Images.Big, len(img.RootFS.Layers), float64(img.Size)/1e6)
			}
			return removeImage(context.WithoutCancel(ctx), t, env.Images.Big)
		},
	}
}

// removeImage deletes ref if present.
func removeImage(ctx context.Context, t *harness.Target, ref string) error {
	if _, err := t.API.ImageInspect(ctx, ref); err != nil {
		return nil // absent (or not inspectable: the pull will tell)
	}
	_, err := t.API.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true})
	return err
}
