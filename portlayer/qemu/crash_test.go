package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// snapshotAt copies root at every crash point, standing for the state a
// crash of vchd at that point leaves on disk.
func snapshotAt(t *testing.T, root string) map[string]string {
	t.Helper()
	snaps := map[string]string{}
	crashHook = func(point string) {
		dst := filepath.Join(t.TempDir(), "root")
		if out, err := exec.Command("cp", "-a", root, dst).CombinedOutput(); err != nil {
			t.Errorf("snapshot at %s: %v: %s", point, err, out)
			return
		}
		snaps[point] = dst
	}
	t.Cleanup(func() { crashHook = nil })
	return snaps
}

// A crash anywhere in create or remove leaves, after recovery, either the
// whole container (visible, startable state, removable) or nothing at all:
// never a directory that List skips and Remove cannot reach.
func TestCrashDuringCreateAndRemove(t *testing.T) {
	ctx := context.Background()
	p, root := unitProvider(t)
	snaps := snapshotAt(t, root)
	id := strings.Repeat("ab", 32)
	if err := p.Create(ctx, compute.Spec{ID: id, Image: testImage, Process: compute.Process{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for point, wantPresent := range map[string]bool{
		"create:dir": false, "create:rw": false, "create:spec": false, "create:status": false,
		"create:done": true, "remove:renamed": false,
	} {
		t.Run(point, func(t *testing.T) {
			snap, ok := snaps[point]
			if !ok {
				t.Fatalf("no crash point %s reached (have %v)", point, snaps)
			}
			crashHook = nil
			q, _ := unitProviderAt(t, snap)
			defer q.Close()
			cs, err := q.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if present := len(cs) == 1; present != wantPresent || len(cs) > 1 {
				t.Fatalf("after a crash at %s: %d containers, want present=%v", point, len(cs), wantPresent)
			}
			if wantPresent {
				if cs[0].Spec.ID != id || cs[0].Status.State != compute.StateCreated {
					t.Fatalf("recovered %+v", cs[0])
				}
				if err := q.Remove(ctx, id); err != nil {
					t.Fatalf("remove after recovery: %v", err)
				}
			} else if _, err := q.Inspect(ctx, id); !errdefs.IsNotFound(err) {
				t.Fatalf("inspect of a container that was never whole: %v", err)
			}
			if left := listDir(t, snap); len(left) != 0 {
				t.Fatalf("left in the state directory: %v", left)
			}
			// The id is free again.
			if err := q.Create(ctx, compute.Spec{ID: id, Image: testImage, Process: compute.Process{Args: []string{"true"}}}); err != nil {
				t.Fatalf("create again: %v", err)
			}
		})
	}
}

// Directories from before creates were atomic: a definition without
// status.json is a created container; a directory without a readable
// definition is removed instead of lingering unseen.
func TestRecoverHalfWrittenContainers(t *testing.T) {
	ctx := context.Background()
	_, root := unitProvider(t)
	whole := strings.Repeat("1", 64)
	broken := strings.Repeat("2", 64)
	for _, d := range []string{whole, broken} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, d, fileRW), []byte("disk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	spec := compute.Spec{ID: whole, Image: testImage, Process: compute.Process{Args: []string{"true"}}}
	if err := saveSpec(filepath.Join(root, whole), &spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, broken, fileSpec), []byte(`{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	q, _ := unitProviderAt(t, root)
	defer q.Close()
	c, err := q.Inspect(ctx, whole)
	if err != nil || c.Status.State != compute.StateCreated {
		t.Fatalf("definition without status: %+v, %v", c.Status, err)
	}
	if got := listDir(t, root); len(got) != 1 || got[0] != whole {
		t.Fatalf("state directory after recovery: %v", got)
	}
	if err := q.Remove(ctx, whole); err != nil {
		t.Fatal(err)
	}
}
