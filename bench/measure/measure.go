package measure

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
)

// Images are the references, in the local registry, of the images the
// measurements use. Both targets pull these same references.
type Images struct {
	Busybox string
	Big     string // ~100 MB, several layers
	Nginx   string // "" when no nginx image could be built
	// The compose app's images: nginx proxying to "app", the app
	// (busybox httpd + redis-cli), redis. "" when they could not be built.
	ComposeWeb, ComposeApp, ComposeRedis string
}

// Env is what every measurement gets.
type Env struct {
	Log    *zap.Logger
	Report *report.Report
	Images Images
	Runs   int // repetitions of each timing
	// MemoryCounts are the numbers of idle containers the memory figure is
	// taken at, increasing.
	MemoryCounts []int
	ListCount    int           // containers created before timing docker ps -a
	MemLimit     string        // docker run -m for idle containers (caps a VM's guest memory)
	MemSettle    time.Duration // idle time before memory is read; 0: DefaultSettle
	LoadDuration time.Duration // length of the HTTP load on nginx
	PortBase     int           // host ports for -p start here, one per target
	// NewRegistry starts an empty registry (in the benchmark's
	// namespace) and returns its address and how to stop it.
	NewRegistry func() (addr string, stop func(), err error)
	// Compose is the Compose v2 binary (standalone); "" skips the compose
	// figure.
	Compose string
	// CountMax is the most idle containers the count measurement starts;
	// CountFloorMiB the host MemAvailable below which it stops early.
	CountMax      int
	CountFloorMiB int64
	// CountSlow: a start slower than this stops the count; 0: none.
	CountSlow time.Duration
}

// Measurement is one figure family of the benchmark. It has either Run,
// called for one target at a time, or RunAll, called once with every target
// for measurements that interleave the targets.
type Measurement struct {
	Name   string // what -only selects
	Define func(env *Env)
	Run    func(ctx context.Context, env *Env, t *harness.Target) error
	RunAll func(ctx context.Context, env *Env, targets []*harness.Target) error
}

// All lists the measurements in the order they run.
func All() []Measurement {
	return []Measurement{Run(), Boot(), Memory(), List(), Create(), Pull(), Port(), Exec(), Push(), Cp(), Compose(), Volume(), Stats(), Count()}
}

// set records a figure, logging it.
func set(env *Env, t *harness.Target, key string, v float64) {
	if err := env.Report.Set(key, t.Name, v); err != nil {
		env.Log.Error("report", zap.Error(err))
		return
	}
	env.Log.Info("figure", zap.String("target", string(t.Name)), zap.String("key", key), zap.Float64("value", v))
}

// setSamples records a figure with the samples it summarises.
func setSamples(env *Env, t *harness.Target, key string, v float64, samples []float64) {
	if err := env.Report.SetSamples(key, t.Name, v, samples); err != nil {
		env.Log.Error("report", zap.Error(err))
		return
	}
	env.Log.Info("figure", zap.String("target", string(t.Name)), zap.String("key", key), zap.Float64("value", v))
}

func na(env *Env, t *harness.Target, key, reason string) {
	if err := env.Report.NA(key, t.Name, reason); err != nil {
		env.Log.Error("report", zap.Error(err))
	}
}

// timeCLI runs one docker CLI command and returns its wall time.
func timeCLI(ctx context.Context, t *harness.Target, args ...string) (time.Duration, error) {
	start := time.Now()
	_, err := t.CLI(ctx, args...)
	return time.Since(start), err
}

// parallel calls fn(i) for i in [0, n) on at most workers goroutines and
// returns the first error (the others still finish).
func parallel(ctx context.Context, n, workers int, fn func(ctx context.Context, i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// RemoveAll force-removes every container of the target, in parallel.
func RemoveAll(ctx context.Context, t *harness.Target) error {
	list, err := t.API.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		return fmt.Errorf("%s: list containers: %w", t.Name, err)
	}
	return parallel(ctx, len(list), 8, func(ctx context.Context, i int) error {
		err := t.API.ContainerRemove(ctx, list[i].ID, container.RemoveOptions{Force: true})
		if err != nil {
			return fmt.Errorf("%s: remove %s: %w", t.Name, list[i].ID, err)
		}
		return nil
	})
}
