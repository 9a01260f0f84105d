package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// Healthchecks, as docker runs them: every Interval the probe (the
// HEALTHCHECK's CMD, or CMD-SHELL through /bin/sh -c) runs as an exec in
// the container's VM with the container's environment, user and working
// directory. Exit 0 is healthy; anything else, or no answer within
// Timeout, is a failure. Retries failures in a row make the container
// unhealthy; failures within StartPeriod of the start do not count while
// it has never been healthy. The last five results are kept.
//
// Health state lives in memory, per run: a probe never writes the
// container's spec (no fsync) and holds no lock of the provider; a vchd
// restart starts over at "starting", as a container start does.

// docker's defaults and bounds.
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultProbeRetries  = 3
	maxHealthLog         = 5
	maxProbeOutput       = 4096
)

// healthProbe is a container's probe, resolved from its Healthcheck.
type healthProbe struct {
	args        []string
	interval    time.Duration
	timeout     time.Duration
	startPeriod time.Duration
	retries     int
}

// probeOf returns the container's probe, or false if it has none
// (no HEALTHCHECK, or NONE: --no-healthcheck).
func probeOf(hc *container.HealthConfig) (healthProbe, bool) {
	if hc == nil || len(hc.Test) == 0 {
		return healthProbe{}, false
	}
	p := healthProbe{interval: hc.Interval, timeout: hc.Timeout, startPeriod: hc.StartPeriod, retries: hc.Retries}
	switch hc.Test[0] {
	case "CMD":
		p.args = hc.Test[1:]
	case "CMD-SHELL":
		if len(hc.Test) < 2 {
			return healthProbe{}, false
		}
		p.args = []string{"/bin/sh", "-c", hc.Test[1]}
	default: // NONE, or a form docker does not run either
		return healthProbe{}, false
	}
	if len(p.args) == 0 {
		return healthProbe{}, false
	}
	if p.interval <= 0 {
		p.interval = defaultProbeInterval
	}
	if p.timeout <= 0 {
		p.timeout = defaultProbeTimeout
	}
	if p.retries <= 0 {
		p.retries = defaultProbeRetries
	}
	return p, true
}

// healthStep applies one probe result to h as docker does and reports
// whether the status changed. started is when the run began.
func healthStep(h *container.Health, r container.HealthcheckResult, p healthProbe, started time.Time) bool {
	old := h.Status
	h.Log = append(h.Log, &r)
	if n := len(h.Log); n > maxHealthLog {
		h.Log = append([]*container.HealthcheckResult(nil), h.Log[n-maxHealthLog:]...)
	}
	if r.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = container.Healthy
		return old != h.Status
	}
	if h.Status == container.Starting && r.Start.Sub(started) < p.startPeriod {
		return false // still starting: failures do not count yet
	}
	h.FailingStreak++
	if h.FailingStreak >= p.retries {
		h.Status = container.Unhealthy
	}
	return old != h.Status
}

// healthMonitor is one run's prober.
type healthMonitor struct {
	mu     sync.Mutex
	health container.Health
	cancel context.CancelFunc
	done   chan struct{}
}

func (hm *healthMonitor) snapshot() *container.Health {
	hm.mu.Lock()
	defer hm.mu.Unlock()
	h := hm.health
	h.Log = append([]*container.HealthcheckResult(nil), hm.health.Log...)
	return &h
}

// healthMonitors holds the probers and the last health of each container.
type healthMonitors struct {
	mu sync.Mutex
	m  map[string]*healthMonitor
}

// health returns id's health for inspect, ps and filters (nil: no
// healthcheck, or never run by this vchd).
func (b *Backend) health(id string) *container.Health {
	b.healths.mu.Lock()
	hm := b.healths.m[id]
	b.healths.mu.Unlock()
	if hm == nil {
		return nil
	}
	return hm.snapshot()
}

// startHealth begins probing a run of id that began at started, if it has
// a healthcheck. A prober of an earlier run is ended first.
func (b *Backend) startHealth(id string, m *Meta, started time.Time) {
	p, ok := probeOf(m.Config.Healthcheck)
	if !ok {
		b.stopHealth(id, true)
		return
	}
	ctx, cancel := context.WithCancel(b.ctx)
	hm := &healthMonitor{health: container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}, cancel: cancel, done: make(chan struct{})}
	b.healths.mu.Lock()
	if b.healths.m == nil {
		b.healths.m = map[string]*healthMonitor{}
	}
	prev := b.healths.m[id]
	b.healths.m[id] = hm
	b.healths.mu.Unlock()
	if prev != nil {
		prev.cancel()
	}
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		defer close(hm.done)
		b.probeLoop(ctx, id, m, p, started, hm)
	}()
}

// stopHealth ends id's prober; forget also drops its last health (rm).
func (b *Backend) stopHealth(id string, forget bool) {
	b.healths.mu.Lock()
	hm := b.healths.m[id]
	if forget {
		delete(b.healths.m, id)
	}
	b.healths.mu.Unlock()
	if hm != nil {
		hm.cancel()
	}
}

func (b *Backend) probeLoop(ctx context.Context, id string, m *Meta, p healthProbe, started time.Time, hm *healthMonitor) {
	log := b.log.With(zap.String("id", id))
	t := time.NewTimer(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := b.pl.Inspect(ctx, id)
		if err != nil || c.Status.State != compute.StateRunning {
			return
		}
		if !c.Status.Paused {
			r, ok := b.probe(ctx, c, p)
			if ctx.Err() != nil {
				return
			}
			if !ok {
				continue // the VM stopped under the probe: the next round ends the loop
			}
			hm.mu.Lock()
			changed := healthStep(&hm.health, r, p, started)
			status := hm.health.Status
			hm.mu.Unlock()
			if changed {
				log.Info("health status", zap.String("status", string(status)))
				b.event(id, m, events.Action(string(events.ActionHealthStatus)+": "+string(status)), nil)
			}
		}
		t.Reset(p.interval)
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// probe runs the probe once as an exec in the VM; false: the VM is no
// longer running, nothing to record.
func (b *Backend) probe(ctx context.Context, c compute.Container, p healthProbe) (container.HealthcheckResult, bool) {
	out := &limitedBuffer{max: maxProbeOutput}
	proc := c.Spec.Process
	r := container.HealthcheckResult{Start: b.now()}
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	x, err := b.pl.Exec(pctx, c.Spec.ID, compute.ExecConfig{
		Args: p.args, Env: proc.Env, User: proc.User, WorkingDir: proc.WorkingDir,
		Stdout: out, Stderr: out,
	})
	var se *compute.ExecStartError
	switch {
	case errors.As(err, &se):
		r.End, r.ExitCode, r.Output = b.now(), se.ExitCode, se.Msg
		return r, true
	case errdefs.IsConflict(err) || errdefs.IsNotFound(err):
		return r, false
	case err != nil:
		r.End, r.ExitCode, r.Output = b.now(), -1, err.Error()
		if pctx.Err() != nil && ctx.Err() == nil {
			r.Output = fmt.Sprintf("Health check exceeded timeout (%v)", p.timeout)
		}
		return r, true
	}
	code, err := x.Wait(pctx)
	r.End = b.now()
	if err != nil {
		if pctx.Err() != nil && ctx.Err() == nil {
			_ = x.Signal(context.WithoutCancel(ctx), syscall.SIGKILL)
			r.ExitCode, r.Output = -1, fmt.Sprintf("Health check exceeded timeout (%v)", p.timeout)
			return r, true
		}
		r.ExitCode, r.Output = -1, err.Error()
		return r, true
	}
	r.ExitCode, r.Output = code, out.String()
	return r, true
}

// healthText is ps's health suffix: "healthy", "unhealthy", "health: starting".
func healthText(h *container.Health) string {
	if h == nil || h.Status == "" || h.Status == container.NoHealthcheck {
		return ""
	}
	if h.Status == container.Starting {
		return "health: starting"
	}
	return string(h.Status)
}
