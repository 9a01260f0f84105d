package image

import (
	"context"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/portlayer/compute"
)

func TestImagesPrune(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.pull(t, "127.0.0.1:5000/busybox", "latest")
	e.pull(t, "127.0.0.1:5000/alpine", "3")
	// Nothing dangling: the default prune keeps tagged images.
	rep, err := e.b.ImagesPrune(ctx, filters.NewArgs())
	if err != nil || len(rep.ImagesDeleted) != 0 {
		t.Fatalf("default prune: %+v %v", rep, err)
	}
	// busybox is used by a container, so only alpine goes; the label! filter keeps it first.
	if err := e.compute.Create(ctx, compute.Spec{ID: strings.Repeat("c", 64), Image: e.busybox.ID, Process: compute.Process{Args: []string{"sleep"}}}); err != nil {
		t.Fatal(err)
	}
	rep, err = e.b.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "false"), filters.Arg("label!", "org=alpine")))
	if err != nil || len(rep.ImagesDeleted) != 0 {
		t.Fatalf("label! prune: %+v %v", rep, err)
	}
	rep, err = e.b.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "false")))
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, r := range rep.ImagesDeleted {
		if r.Deleted == e.alpine.ID {
			deleted++
		}
		if r.Deleted == e.busybox.ID {
			t.Fatal("pruned an image a container uses")
		}
	}
	if deleted != 1 || rep.SpaceReclaimed != uint64(e.alpine.Size) {
		t.Fatalf("prune all: %+v", rep)
	}
	if _, err := e.b.ImagesPrune(ctx, filters.NewArgs(filters.Arg("dangling", "maybe"))); err == nil {
		t.Fatal("dangling=maybe accepted")
	}
}
