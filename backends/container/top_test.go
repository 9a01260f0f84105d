package container

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
)

func TestTop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("web", container.Config{Cmd: []string{"sleep", "9"}}, nil)
	if _, err := e.b.ContainerTop(ctx, "web", ""); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not running" {
		t.Fatalf("top of a created container: %v", err)
	}
	e.start("web")
	res, err := e.b.ContainerTop(ctx, "web", "-ef")
	if err != nil || len(res.Processes) != 1 || res.Processes[0][len(res.Processes[0])-1] != "sleep 9" || res.Titles[1] != "PID" {
		t.Fatalf("top: %+v %v", res, err)
	}
	if _, err := e.b.ContainerTop(ctx, "web", "--bogus"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("top with a bad option: %v", err)
	}
	if err := e.b.ContainerPause(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.ContainerTop(ctx, "web", ""); !errdefs.IsConflict(err) {
		t.Fatalf("top of a paused container: %v", err)
	}
}
