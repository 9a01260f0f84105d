package container

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	eventtypes "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/backends/events"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
)

func TestProbeOf(t *testing.T) {
	cases := []struct {
		name string
		hc   *container.HealthConfig
		args string // "" : no probe
	}{
		{"none configured", nil, ""},
		{"NONE", &container.HealthConfig{Test: []string{"NONE"}}, ""},
		{"CMD", &container.HealthConfig{Test: []string{"CMD", "cat", "/ok"}}, "cat /ok"},
		{"CMD-SHELL", &container.HealthConfig{Test: []string{"CMD-SHELL", "test -f /ok || exit 1"}}, "/bin/sh -c test -f /ok || exit 1"},
		{"CMD without command", &container.HealthConfig{Test: []string{"CMD"}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := probeOf(tc.hc)
			if got := strings.Join(p.args, " "); ok != (tc.args != "") || got != tc.args {
				t.Fatalf("probe %v %q, want %q", ok, got, tc.args)
			}
			if ok && (p.interval != defaultProbeInterval || p.timeout != defaultProbeTimeout || p.retries != defaultProbeRetries) {
				t.Fatalf("defaults: %+v", p)
			}
		})
	}
}

func TestHealthStep(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	p := healthProbe{retries: 2, startPeriod: 10 * time.Second}
	type step struct {
		at      time.Duration // since start
		code    int
		status  container.HealthStatus
		streak  int
		changed bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"healthy at once", []step{{1 * time.Second, 0, container.Healthy, 0, true}}},
		{"start period forgives", []step{
			{1 * time.Second, 1, container.Starting, 0, false},
			{5 * time.Second, 1, container.Starting, 0, false},
			{11 * time.Second, 1, container.Starting, 1, false},
			{12 * time.Second, 1, container.Unhealthy, 2, true},
			{13 * time.Second, 0, container.Healthy, 0, true},
		}},
		{"healthy then failing", []step{
			{1 * time.Second, 0, container.Healthy, 0, true},
			{2 * time.Second, 1, container.Healthy, 1, false},
			{3 * time.Second, -1, container.Unhealthy, 2, true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &container.Health{Status: container.Starting}
			for i, s := range tc.steps {
				changed := healthStep(h, container.HealthcheckResult{Start: start.Add(s.at), ExitCode: s.code}, p, start)
				if h.Status != s.status || h.FailingStreak != s.streak || changed != s.changed {
					t.Fatalf("step %d: status %s streak %d changed %v, want %s %d %v", i, h.Status, h.FailingStreak, changed, s.status, s.streak, s.changed)
				}
			}
		})
	}
	h := &container.Health{Status: container.Starting}
	for range 8 {
		healthStep(h, container.HealthcheckResult{Start: start, ExitCode: 0}, p, start)
	}
	if len(h.Log) != maxHealthLog {
		t.Fatalf("log keeps %d results, want %d", len(h.Log), maxHealthLog)
	}
}

// pollHealth waits (with a generous bound) until ref's health is want.
func pollHealth(t *testing.T, e *env, ref string, want container.HealthStatus) *container.Health {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if h := e.inspect(ref).State.Health; h != nil && h.Status == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s: %+v", ref, want, e.inspect(ref).State.Health)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHealthchecksRunAsExecs(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, sub := e.events.Subscribe(time.Time{}, mustFilter(t, filters.NewArgs(filters.Arg("event", "health_status"))))
	defer sub.Close()
	fast := time.Millisecond
	e.create("good", container.Config{Cmd: []string{"sleep"}, Healthcheck: &container.HealthConfig{Test: []string{"CMD", "echo", "ok"}, Interval: fast}}, nil)
	e.create("bad", container.Config{Cmd: []string{"sleep"}, Healthcheck: &container.HealthConfig{Test: []string{"CMD", "false"}, Interval: fast, Retries: 2}}, nil)
	e.create("plain", container.Config{Cmd: []string{"sleep"}, Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}, nil)
	if h := e.inspect("good").State.Health; h == nil || h.Status != container.Starting {
		t.Fatalf("before start: %+v", h)
	}
	for _, n := range []string{"good", "bad", "plain"} {
		e.start(n)
	}
	h := pollHealth(t, e, "good", container.Healthy)
	if len(h.Log) == 0 || h.Log[0].Output != "ok\n" || h.Log[0].ExitCode != 0 {
		t.Fatalf("good's log: %+v", h.Log[0])
	}
	h = pollHealth(t, e, "bad", container.Unhealthy)
	if h.FailingStreak < 2 {
		t.Fatalf("bad's streak: %d", h.FailingStreak)
	}
	if e.inspect("plain").State.Health != nil {
		t.Fatal("--no-healthcheck container has Health")
	}
	got := map[string]string{}
	for len(got) < 2 {
		m := next(t, sub)
		got[m.Actor.Attributes["name"]] = string(m.Action)
	}
	if got["good"] != string(eventtypes.ActionHealthStatusHealthy) || got["bad"] != string(eventtypes.ActionHealthStatusUnhealthy) {
		t.Fatalf("health events: %v", got)
	}

	ps := func(args ...filters.KeyValuePair) map[string]string {
		list, err := e.b.Containers(ctx, containerrouter.ListConfig{Filters: filters.NewArgs(args...)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range list {
			out[strings.TrimPrefix(s.Names[0], "/")] = s.Status
		}
		return out
	}
	all := ps()
	if !strings.HasSuffix(all["good"], "(healthy)") || !strings.HasSuffix(all["bad"], "(unhealthy)") || strings.Contains(all["plain"], "(") {
		t.Fatalf("ps status: %v", all)
	}
	if only := ps(filters.Arg("health", "healthy")); len(only) != 1 || only["good"] == "" {
		t.Fatalf("ps --filter health=healthy: %v", only)
	}
	if only := ps(filters.Arg("health", "none")); len(only) != 1 || only["plain"] == "" {
		t.Fatalf("ps --filter health=none: %v", only)
	}
	// A stop ends the probes; the last health stays for inspect.
	if err := e.b.ContainerStop(ctx, "good", nil, ""); err != nil {
		t.Fatal(err)
	}
	if h := e.inspect("good").State.Health; h == nil || h.Status != container.Healthy {
		t.Fatalf("after stop: %+v", h)
	}
}

func mustFilter(t *testing.T, args filters.Args) events.Filter {
	t.Helper()
	f, err := events.NewFilter(args)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
