package container

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

func TestContainersPrune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	running := e.create("up", container.Config{Cmd: []string{"sleep"}}, nil)
	e.start("up")
	labeled := e.create("old1", container.Config{Cmd: []string{"true"}, Labels: map[string]string{"tier": "ci"}}, nil)
	plain := e.create("old2", container.Config{Cmd: []string{"true"}}, nil)
	e.start("old1")
	e.wait("old1", container.WaitConditionNotRunning)

	rep, err := e.b.ContainersPrune(ctx, filters.NewArgs(filters.Arg("label", "tier=ci")))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ContainersDeleted) != 1 || rep.ContainersDeleted[0] != labeled {
		t.Fatalf("label prune: %v", rep.ContainersDeleted)
	}
	if _, err := e.b.ContainersPrune(ctx, filters.NewArgs(filters.Arg("bogus", "1"))); err == nil {
		t.Fatal("unknown filter accepted")
	}
	rep, err = e.b.ContainersPrune(ctx, filters.NewArgs())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ContainersDeleted) != 1 || rep.ContainersDeleted[0] != plain {
		t.Fatalf("prune: %v", rep.ContainersDeleted)
	}
	if e.inspect(running).State.Running != true {
		t.Fatal("running container pruned")
	}
}
