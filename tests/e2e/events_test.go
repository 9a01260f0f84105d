package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// event is what `docker events --format '{{json .}}'` prints.
type event struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	Scope    string
	Time     int64
	TimeNano int64
	Status   string `json:"status"`
	ID       string `json:"id"`
	From     string `json:"from"`
}

func parseEvents(t *testing.T, out string) []event {
	t.Helper()
	var evs []event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("event line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func eventActions(evs []event) string {
	var a []string
	for _, e := range evs {
		a = append(a, e.Action)
	}
	return strings.Join(a, ",")
}

// unixArg is a time as docker events' --since/--until take it.
func unixArg(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// A run that ends on its own, a run stopped by the user and their removal,
// replayed with --since/--until and filtered the ways scripts filter.
func TestEventsSinceUntilFilters(t *testing.T) {
	img := pulled(t)
	selfExit, stopped := uniqueName(t)+"-exit", uniqueName(t)+"-stop"
	vol := uniqueName(t) + "-vol"
	since := time.Now().Add(-time.Second)
	mustDocker(t, "run", "-d", "--name", selfExit, "--label", "e2e.events=yes", img, "sh", "-c", "exit 3")
	if code := strings.TrimSpace(mustDocker(t, "wait", selfExit)); code != "3" {
		t.Fatalf("wait: %q", code)
	}
	mustDocker(t, "volume", "create", vol)
	mustDocker(t, "run", "-d", "--name", stopped, "-v", vol+":/data", img, "sleep", "1000")
	// sleep dies of the TERM at once; a short grace period could run out
	// on a loaded host before the exit is seen, and stop would add a
	// second kill event (signal 9).
	mustDocker(t, "stop", "-t", "30", stopped)
	mustDocker(t, "rm", selfExit, stopped)
	mustDocker(t, "volume", "rm", vol)
	until := time.Now().Add(time.Second)

	window := []string{"events", "--since", unixArg(since), "--until", unixArg(until), "--format", "{{json .}}"}
	evs := parseEvents(t, mustDocker(t, append(window, "--filter", "container="+selfExit)...))
	if got := eventActions(evs); got != "create,start,die,destroy" {
		t.Fatalf("events of %s: %s", selfExit, got)
	}
	die := evs[2]
	if die.Type != "container" || die.Scope != "local" || die.Actor.Attributes["exitCode"] != "3" ||
		die.Actor.Attributes["name"] != selfExit || die.Actor.Attributes["image"] != img ||
		die.Actor.Attributes["e2e.events"] != "yes" || die.Status != "die" || die.ID != die.Actor.ID || die.From != img ||
		die.TimeNano/1e9 != die.Time || die.Time < since.Unix() {
		t.Fatalf("die event: %+v", die)
	}

	evs = parseEvents(t, mustDocker(t, append(window, "--filter", "container="+stopped)...))
	if got := eventActions(evs); got != "create,start,kill,die,stop,destroy" {
		t.Fatalf("events of %s: %s", stopped, got)
	}
	if evs[2].Actor.Attributes["signal"] != "15" || evs[3].Actor.Attributes["exitCode"] != "143" {
		t.Fatalf("stop's kill and die: %+v %+v", evs[2], evs[3])
	}

	evs = parseEvents(t, mustDocker(t, append(window, "--filter", "type=container", "--filter", "event=die")...))
	names := map[string]string{}
	for _, e := range evs {
		if e.Action != "die" {
			t.Fatalf("event=die filter let through %+v", e)
		}
		names[e.Actor.Attributes["name"]] = e.Actor.Attributes["exitCode"]
	}
	if names[selfExit] != "3" || names[stopped] != "143" {
		t.Fatalf("die events: %v", names)
	}

	evs = parseEvents(t, mustDocker(t, append(window, "--filter", "label=e2e.events=yes")...))
	if got := eventActions(evs); got != "create,start,die,destroy" {
		t.Fatalf("label filter: %s", got)
	}

	evs = parseEvents(t, mustDocker(t, append(window, "--filter", "volume="+vol)...))
	if got := eventActions(evs); got != "create,mount,unmount,destroy" {
		t.Fatalf("volume events: %s", got)
	}
	if evs[1].Actor.Attributes["container"] == "" || evs[1].Actor.Attributes["destination"] != "/data" {
		t.Fatalf("mount event: %+v", evs[1])
	}

	// Other containers of the image (a restart policy's, say) may start
	// in the window too: every event must be a start of the image, and
	// both of this test's must be there.
	evs = parseEvents(t, mustDocker(t, append(window, "--filter", "image="+img, "--filter", "event=start")...))
	started := map[string]bool{}
	for _, e := range evs {
		if e.Action != "start" || e.Actor.Attributes["image"] != img {
			t.Fatalf("image and event filters let through %+v", e)
		}
		started[e.Actor.Attributes["name"]] = true
	}
	if !started[selfExit] || !started[stopped] {
		t.Fatalf("image filter on starts: %s (%v)", eventActions(evs), started)
	}
	if r := docker(t, "events", "--since", unixArg(since), "--until", unixArg(until), "--filter", "bogus=1"); r.Exit == 0 {
		t.Fatalf("unknown filter accepted: %s", r)
	}
}

// docker events without --until streams: events appear as they happen.
func TestEventsStream(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	// --since replays what happened before the CLI connected, then the
	// stream goes on: no race with the CLI's connection.
	cmd := exec.Command("docker", "events", "--since", unixArg(time.Now().Add(-time.Second)), "--filter", "container="+name, "--format", "{{json .}}")
	cmd.Env = dockerEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var (
		mu   sync.Mutex
		seen []event
	)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				mu.Lock()
				seen = append(seen, e)
				mu.Unlock()
			}
		}
	}()
	actions := func() string {
		mu.Lock()
		defer mu.Unlock()
		return eventActions(seen)
	}
	mustDocker(t, "create", "--name", name, img, "sh", "-c", "exit 0")
	poll(t, "the create event", func() bool { return actions() == "create" })
	mustDocker(t, "start", name)
	poll(t, "start and die in the stream", func() bool { return actions() == "create,start,die" })
	mustDocker(t, "rm", name)
	poll(t, "destroy in the stream", func() bool { return actions() == "create,start,die,destroy" })
}

// Network events in docker's shape: create and destroy of user-defined
// networks, connect at a container's start and on network connect of a
// running container, disconnect on network disconnect and at the end of
// its run.
func TestNetworkEvents(t *testing.T) {
	img := pulled(t)
	net1, net2, c := uniqueName(t)+"-n1", uniqueName(t)+"-n2", uniqueName(t)+"-c"
	since := time.Now().Add(-time.Second)
	id1 := strings.TrimSpace(mustDocker(t, "network", "create", net1))
	id2 := strings.TrimSpace(mustDocker(t, "network", "create", net2))
	t.Cleanup(func() { docker(t, "rm", "-f", c); docker(t, "network", "rm", net1, net2) })
	cid := strings.TrimSpace(mustDocker(t, "run", "-d", "--name", c, "--network", net1, img, "sleep", "1000"))
	mustDocker(t, "network", "connect", net2, c)
	mustDocker(t, "network", "disconnect", net2, c)
	mustDocker(t, "stop", "-t", "1", c)
	mustDocker(t, "rm", c)
	mustDocker(t, "network", "rm", net1, net2)
	until := time.Now().Add(time.Second)

	window := []string{"events", "--since", unixArg(since), "--until", unixArg(until), "--format", "{{json .}}", "--filter", "type=network"}
	for _, n := range []struct{ name, id string }{{net1, id1}, {net2, id2}} {
		evs := parseEvents(t, mustDocker(t, append(window, "--filter", "network="+n.name)...))
		if got := eventActions(evs); got != "create,connect,disconnect,destroy" {
			t.Fatalf("events of network %s: %s", n.name, got)
		}
		for i, e := range evs {
			a := e.Actor.Attributes
			if e.Type != "network" || e.Scope != "local" || e.Actor.ID != n.id || a["name"] != n.name || a["type"] != "bridge" {
				t.Fatalf("event %d of %s: %+v", i, n.name, e)
			}
			if (e.Action == "connect" || e.Action == "disconnect") && a["container"] != cid {
				t.Fatalf("%s event of %s names container %q, want %s", e.Action, n.name, a["container"], cid)
			}
		}
	}
	// By ID too, and the event filter.
	evs := parseEvents(t, mustDocker(t, append(window, "--filter", "network="+id1, "--filter", "event=connect")...))
	if got := eventActions(evs); got != "connect" {
		t.Fatalf("network=ID, event=connect: %s", got)
	}
}
