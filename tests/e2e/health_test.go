package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

type health struct {
	Status        string
	FailingStreak int
	Log           []struct {
		ExitCode int
		Output   string
	}
}

func healthOf(t *testing.T, name string) *health {
	t.Helper()
	var h *health
	out := mustDocker(t, "inspect", "--format", "{{json .State.Health}}", name)
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("health of %s: %q: %v", name, out, err)
	}
	return h
}

func pollHealthStatus(t *testing.T, name, want string) *health {
	t.Helper()
	var h *health
	poll(t, name+" "+want, func() bool {
		h = healthOf(t, name)
		return h != nil && h.Status == want
	})
	return h
}

// --health-* flags: healthy, then unhealthy when the probe starts failing,
// in inspect, ps, ps --filter health= and events.
func TestHealthcheckFlags(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	since := time.Now().Add(-time.Second)
	mustDocker(t, "run", "-d", "--name", name, "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s",
		"--health-retries", "2", img, "sh", "-c", "touch /tmp/ok; exec sleep 1000")
	defer docker(t, "rm", "-f", name)
	pollHealthStatus(t, name, "healthy")
	if ps := mustDocker(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.Contains(ps, "(healthy)") {
		t.Fatalf("ps status: %q", ps)
	}
	if ps := mustDocker(t, "ps", "-q", "--filter", "health=healthy", "--filter", "name="+name); strings.TrimSpace(ps) == "" {
		t.Fatal("ps --filter health=healthy misses it")
	}
	if ps := mustDocker(t, "ps", "-q", "--filter", "health=unhealthy", "--filter", "name="+name); strings.TrimSpace(ps) != "" {
		t.Fatal("ps --filter health=unhealthy lists a healthy container")
	}

	mustDocker(t, "exec", name, "rm", "/tmp/ok")
	h := pollHealthStatus(t, name, "unhealthy")
	if h.FailingStreak < 2 || len(h.Log) == 0 || len(h.Log) > 5 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Fatalf("unhealthy: %+v", h)
	}
	if ps := mustDocker(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.Contains(ps, "(unhealthy)") {
		t.Fatalf("ps status: %q", ps)
	}
	// --until a second ahead: an event of the current second can be
	// missed by an --until of now (docker events waits out the second).
	until := time.Now().Add(time.Second)
	evs := parseEvents(t, mustDocker(t, "events", "--since", unixArg(since), "--until", unixArg(until),
		"--filter", "container="+name, "--filter", "event=health_status", "--format", "{{json .}}"))
	if got := eventActions(evs); got != "health_status: healthy,health_status: unhealthy" {
		t.Fatalf("health events: %s", got)
	}
}

// A probe slower than --health-timeout fails with docker's message; within
// --health-start-period failures do not count; --no-healthcheck has none.
func TestHealthcheckTimeoutStartPeriodNone(t *testing.T) {
	img := pulled(t)
	slow, grace, none := uniqueName(t)+"-slow", uniqueName(t)+"-grace", uniqueName(t)+"-none"
	mustDocker(t, "run", "-d", "--name", slow, "--health-cmd", "sleep 30", "--health-timeout", "1s",
		"--health-interval", "1s", "--health-retries", "1", img, "sleep", "1000")
	defer docker(t, "rm", "-f", slow)
	mustDocker(t, "run", "-d", "--name", grace, "--health-cmd", "false", "--health-interval", "1s",
		"--health-retries", "1", "--health-start-period", "10m", img, "sleep", "1000")
	defer docker(t, "rm", "-f", grace)
	mustDocker(t, "run", "-d", "--name", none, "--no-healthcheck", img, "sleep", "1000")
	defer docker(t, "rm", "-f", none)

	h := pollHealthStatus(t, slow, "unhealthy")
	if out := h.Log[len(h.Log)-1].Output; !strings.Contains(out, "Health check exceeded timeout (1s)") {
		t.Fatalf("timeout output: %q", out)
	}
	poll(t, "two failed probes in the start period", func() bool {
		h = healthOf(t, grace)
		return h != nil && len(h.Log) >= 2
	})
	if h.Status != "starting" || h.FailingStreak != 0 {
		t.Fatalf("in the start period: %+v", h)
	}
	if ps := mustDocker(t, "ps", "--filter", "name="+grace, "--format", "{{.Status}}"); !strings.Contains(ps, "(health: starting)") {
		t.Fatalf("ps status: %q", ps)
	}
	if out := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{json .State.Health}}", none)); out != "null" {
		t.Fatalf("--no-healthcheck has health %s", out)
	}
}

// An image's HEALTHCHECK runs without any flag.
func TestHealthcheckFromImage(t *testing.T) {
	layer, err := fixture.BuildLayer([]fixture.Entry{{Path: "healthy", Data: []byte("yes\n"), Mode: 0o644}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.WithLayer(env.bbImage, fixture.ImageConfig{
		Cmd:         []string{"sleep", "1000"},
		Healthcheck: &fixture.HealthConfig{Test: []string{"CMD", "cat", "/healthy"}, Interval: int64(time.Second)},
	}, layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.registry.Push(context.Background(), "healthimg", "v1", img); err != nil {
		t.Fatal(err)
	}
	ref := env.registry.Addr + "/healthimg:v1"
	mustDocker(t, "pull", ref)
	name := uniqueName(t)
	mustDocker(t, "run", "-d", "--name", name, ref)
	defer docker(t, "rm", "-f", name)
	h := pollHealthStatus(t, name, "healthy")
	if h.Log[len(h.Log)-1].Output != "yes\n" {
		t.Fatalf("probe output: %+v", h.Log)
	}
}
