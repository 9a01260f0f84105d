package measure

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
)

const (
	loadConns       = 8
	loadMaxRequests = 5_000_000
)

// Port is measurement 7: HTTP requests per second to nginx through a
// published port (`-p 127.0.0.1:P:80`), from a client on loopback inside the
// benchmark's namespace.
func Port() Measurement {
	const sec = "7. Published port"
	return Measurement{
		Name: "port",
		Define: func(env *Env) {
			env.Report.Define(sec, "port.ready", "`docker run -d -p` until nginx answers through the port", "s", report.Lower)
			env.Report.Define(sec, "port.ready.create", "↳ `docker run` → container created (CLI, create round trips)", "s", report.Lower)
			env.Report.Define(sec, "port.ready.start", "↳ created → process started (vch: VM launch, kernel boot, tether, network in the guest)", "s", report.Lower)
			env.Report.Define(sec, "port.ready.serve", "↳ process started → nginx answers through the port", "s", report.Lower)
			env.Report.Define(sec, "port.rps", fmt.Sprintf("HTTP GET / to nginx through `-p`, %d connections", loadConns), "req/s", report.Higher)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			if env.Images.Nginx == "" {
				na(env, t, "port.rps", "no nginx image in the fixture")
				return nil
			}
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			port := env.PortBase
			if t.Name == report.VCH {
				port++
			}
			begin := time.Now()
			if _, err := t.CLI(ctx, "run", "-d", "--name", "bench-nginx", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), env.Images.Nginx); err != nil {
				if t.Name == report.VCH {
					na(env, t, "port.rps", fmt.Sprintf("`-p` failed: %v", err))
					return nil
				}
				return err
			}
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			if err := waitHTTP(ctx, url, time.Minute); err != nil {
				if t.Name == report.VCH {
					na(env, t, "port.rps", fmt.Sprintf("nginx not reachable through `-p`: %v", err))
					return nil
				}
				return err
			}
			ready := time.Now()
			set(env, t, "port.ready", ready.Sub(begin).Seconds())
			if err := readyBreakdown(ctx, env, t, "bench-nginx", begin, ready); err != nil {
				return err
			}
			// a short warm-up, then the measured load
			if _, err := Load(ctx, url, loadConns, time.Second, loadMaxRequests); err != nil {
				return err
			}
			res, err := Load(ctx, url, loadConns, env.LoadDuration, loadMaxRequests)
			if err != nil {
				return err
			}
			env.Log.Info("load", zap.String("target", string(t.Name)), zap.Int64("ok", res.OK), zap.Int64("failed", res.Failed), zap.Duration("duration", res.Duration))
			set(env, t, "port.rps", res.PerSecond())
			return nil
		},
	}
}

// readyBreakdown splits port.ready at the container's creation and at its
// process start: for dockerd from inspect's Created and State.StartedAt,
// for vch from the VM's boot steps (process-started), which mark when the
// guest started nginx rather than when vchd answered the start.
func readyBreakdown(ctx context.Context, env *Env, t *harness.Target, name string, begin, ready time.Time) error {
	info, raw, err := t.API.ContainerInspectWithRaw(ctx, name, false)
	if err != nil {
		return fmt.Errorf("%s: inspect %s: %w", t.Name, name, err)
	}
	created, err := time.Parse(time.RFC3339Nano, info.Created)
	if err != nil {
		return fmt.Errorf("%s: inspect %s: bad Created %q: %w", t.Name, name, info.Created, err)
	}
	started, err := time.Parse(time.RFC3339Nano, info.State.StartedAt)
	if err != nil {
		return fmt.Errorf("%s: inspect %s: bad StartedAt %q: %w", t.Name, name, info.State.StartedAt, err)
	}
	steps := FindSteps(raw)
	if steps == nil && t.Name == report.VCH && t.StateDir != "" {
		steps, _ = StepsFromState(t.StateDir, info.ID)
	}
	for _, s := range steps {
		if s.Name == "process-started" {
			started = s.At
		}
	}
	set(env, t, "port.ready.create", created.Sub(begin).Seconds())
	set(env, t, "port.ready.start", started.Sub(created).Seconds())
	set(env, t, "port.ready.serve", ready.Sub(started).Seconds())
	return nil
}
