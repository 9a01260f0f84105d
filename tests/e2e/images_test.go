package e2e

import (
	"strings"
	"testing"
)

func TestPullShowsDockerProgress(t *testing.T) {
	r := docker(t, "pull", env.registry.Addr+"/busybox:latest")
	if r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	pullOnce.Do(func() { pullResult = r })
	for _, want := range []string{"Digest: sha256:", "Status:", env.registry.Addr + "/busybox:latest"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("pull output lacks %q:\n%s", want, r.Stdout)
		}
	}
	// A second pull is up to date.
	again := mustDocker(t, "pull", env.busybox)
	if !strings.Contains(again, "Image is up to date") {
		t.Fatalf("second pull: %s", again)
	}
}

func TestImagesInspectTagRmi(t *testing.T) {
	img := pulled(t)
	out := mustDocker(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
	short := strings.TrimPrefix(env.bbImage.ID(), "sha256:")[:12]
	if !strings.Contains(out, img+" "+short) {
		t.Fatalf("docker images lacks %s %s:\n%s", img, short, out)
	}
	id := strings.TrimSpace(mustDocker(t, "image", "inspect", "--format", "{{.Id}}", img))
	if id != env.bbImage.ID() {
		t.Fatalf("inspect id %s, want %s", id, env.bbImage.ID())
	}
	tag := env.registry.Addr + "/mine:v1"
	mustDocker(t, "tag", img, tag)
	if got := strings.TrimSpace(mustDocker(t, "image", "inspect", "--format", "{{.Id}}", tag)); got != id {
		t.Fatalf("tag points at %s", got)
	}
	// rmi of a tag with others left only untags.
	out = mustDocker(t, "rmi", tag)
	if !strings.Contains(out, "Untagged: "+tag) || strings.Contains(out, "Deleted") {
		t.Fatalf("rmi of an extra tag: %s", out)
	}
	r := docker(t, "image", "inspect", tag)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such image") {
		t.Fatalf("inspect of removed tag: %s", r)
	}
}

func TestRmiConflictWhileUsed(t *testing.T) {
	img := pulled(t)
	tag := env.registry.Addr + "/inuse:v1"
	mustDocker(t, "tag", img, tag)
	name := uniqueName(t)
	mustDocker(t, "create", "--name", name, tag, "true")
	defer docker(t, "rm", "-f", name)
	// Removing the image by ID while a container uses it: 409.
	r := docker(t, "rmi", strings.TrimPrefix(env.bbImage.ID(), "sha256:")[:12])
	if r.Exit == 0 || !strings.Contains(r.Stderr, "conflict") {
		t.Fatalf("rmi of an image in use: %s", r)
	}
	mustDocker(t, "rmi", tag) // untag works: other tags remain
}

func TestUnknownImage(t *testing.T) {
	r := docker(t, "image", "inspect", "nosuchimage:latest")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such image") {
		t.Fatalf("inspect unknown: %s", r)
	}
	r = docker(t, "pull", env.registry.Addr+"/nope:latest")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "not found") {
		t.Fatalf("pull unknown: %s", r)
	}
}
