package container

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	eventtypes "github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/backends/events"
)

// next reads the next container event, failing after a generous bound.
func next(t *testing.T, sub *events.Subscription) eventtypes.Message {
	t.Helper()
	select {
	case m := <-sub.C():
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
	return eventtypes.Message{}
}

func actions(t *testing.T, sub *events.Subscription, n int) []string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, string(next(t, sub).Action))
	}
	return out
}

func TestContainerEvents(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, sub := e.events.Subscribe(time.Time{}, events.Filter{})
	defer sub.Close()

	id := e.create("web", container.Config{Cmd: []string{"sleep"}, Labels: map[string]string{"tier": "front"}}, nil)
	m := next(t, sub)
	if m.Action != eventtypes.ActionCreate || m.Actor.ID != id || m.Actor.Attributes["name"] != "web" ||
		m.Actor.Attributes["image"] != "busybox" || m.Actor.Attributes["tier"] != "front" {
		t.Fatalf("create event: %+v", m)
	}
	e.start("web")
	if got := next(t, sub).Action; got != eventtypes.ActionStart {
		t.Fatalf("after start: %s", got)
	}
	if err := e.b.ContainerPause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := e.b.ContainerUnpause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if got := actions(t, sub, 2); strings.Join(got, ",") != "pause,unpause" {
		t.Fatalf("pause/unpause: %v", got)
	}
	if err := e.b.ContainerStop(ctx, "web", nil, ""); err != nil {
		t.Fatal(err)
	}
	kill := next(t, sub)
	if kill.Action != eventtypes.ActionKill || kill.Actor.Attributes["signal"] != "15" {
		t.Fatalf("stop's kill: %+v", kill)
	}
	die := next(t, sub)
	if die.Action != eventtypes.ActionDie || die.Actor.Attributes["exitCode"] != "143" {
		t.Fatalf("die: %+v", die)
	}
	if got := next(t, sub).Action; got != eventtypes.ActionStop {
		t.Fatalf("after die: %s", got)
	}
	if err := e.b.ContainerRename(ctx, "web", "api"); err != nil {
		t.Fatal(err)
	}
	rn := next(t, sub)
	if rn.Action != eventtypes.ActionRename || rn.Actor.Attributes["oldName"] != "/web" || rn.Actor.Attributes["name"] != "api" {
		t.Fatalf("rename: %+v", rn)
	}
	if err := e.b.ContainerRemove(ctx, "api", false, false); err != nil {
		t.Fatal(err)
	}
	if got := next(t, sub).Action; got != eventtypes.ActionDestroy {
		t.Fatalf("after rm: %s", got)
	}

	// A process that ends on its own dies once, seen by the monitor.
	e.create("once", container.Config{Cmd: []string{"false"}}, nil)
	e.start("once")
	if got := actions(t, sub, 3); strings.Join(got, ",") != "create,start,die" {
		t.Fatalf("run of false: %v", got)
	}
	e.wait("once", container.WaitConditionNotRunning)
	if err := e.b.ContainerKill(ctx, "once", ""); err == nil {
		t.Fatal("kill of an exited container succeeded")
	}
	if err := e.b.ContainerRemove(ctx, "once", false, false); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); m.Action != eventtypes.ActionDestroy {
		t.Fatalf("a second die or other event: %+v", m)
	}
}

func TestKillEventsAndSingleDie(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("kk", container.Config{Cmd: []string{"sleep"}}, nil)
	e.start("kk")
	_, sub := e.events.Subscribe(time.Time{}, events.Filter{})
	defer sub.Close()
	if err := e.b.ContainerKill(ctx, "kk", ""); err != nil {
		t.Fatal(err)
	}
	kill := next(t, sub)
	if kill.Action != eventtypes.ActionKill || kill.Actor.Attributes["signal"] != "9" {
		t.Fatalf("kill: %+v", kill)
	}
	die := next(t, sub)
	if die.Action != eventtypes.ActionDie || die.Actor.Attributes["exitCode"] != "137" {
		t.Fatalf("die: %+v", die)
	}
	if err := e.b.ContainerRemove(ctx, "kk", false, false); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); m.Action != eventtypes.ActionDestroy {
		t.Fatalf("want destroy right after the one die, got %+v", m)
	}
}

// A monitor that saw a run end before the container was removed, and
// only gets to log it afterwards, logs nothing: no die after destroy (it
// made TestContainerEvents see "die" of a removed container).
func TestNoDieAfterDestroy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.create("gone", container.Config{Cmd: []string{"sleep"}}, nil)
	e.start("gone")
	if err := e.b.ContainerStop(ctx, "gone", nil, ""); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.b.lookup(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	ended := c.Status
	if err := e.b.ContainerRemove(ctx, "gone", false, false); err != nil {
		t.Fatal(err)
	}
	_, sub := e.events.Subscribe(time.Time{}, events.Filter{})
	defer sub.Close()
	e.b.died(ctx, c.Spec.ID, ended)
	if got := drain(sub); len(got) != 0 {
		t.Fatalf("events after the late die: %+v, want none", got)
	}
}

// drain takes what sub has queued now, without waiting.
func drain(sub *events.Subscription) []eventtypes.Message {
	var out []eventtypes.Message
	for {
		select {
		case m, ok := <-sub.C():
			if !ok {
				return out
			}
			out = append(out, m)
		default:
			return out
		}
	}
}
