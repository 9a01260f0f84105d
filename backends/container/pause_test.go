package container

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
)

func TestPauseUnpause(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("web", container.Config{Cmd: []string{"sleep"}}, nil)
	if err := e.b.ContainerPause(ctx, "web"); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not running" {
		t.Fatalf("pause of a created container: %v", err)
	}
	e.start("web")
	if err := e.b.ContainerUnpause(ctx, "web"); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not paused" {
		t.Fatalf("unpause of a running container: %v", err)
	}
	if err := e.b.ContainerPause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := e.b.ContainerPause(ctx, "web"); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is already paused" {
		t.Fatalf("second pause: %v", err)
	}
	st := e.inspect("web").State
	if st.Status != "paused" || !st.Paused || !st.Running {
		t.Fatalf("inspect of a paused container: %+v", st)
	}
	list, err := e.b.Containers(ctx, containerrouter.ListConfig{})
	if err != nil || len(list) != 1 || list[0].State != "paused" || !strings.HasSuffix(list[0].Status, "(Paused)") {
		t.Fatalf("ps of a paused container: %+v %v", list, err)
	}
	_, err = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"true"}})
	if !errdefs.IsConflict(err) || err.Error() != "container "+id+" is paused, unpause the container before exec" {
		t.Fatalf("exec in a paused container: %v", err)
	}
	if err := e.b.ContainerUnpause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if st := e.inspect("web").State; st.Status != "running" || st.Paused {
		t.Fatalf("inspect after unpause: %+v", st)
	}
	// A paused container stops: the stop signal thaws it.
	if err := e.b.ContainerPause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	timeout := 5
	if err := e.b.ContainerStop(ctx, "web", &timeout, ""); err != nil {
		t.Fatalf("stop of a paused container: %v", err)
	}
	if st := e.inspect("web").State; st.Status != "exited" || st.Paused {
		t.Fatalf("inspect after stop: %+v", st)
	}
}
