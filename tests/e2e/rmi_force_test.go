package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/vchproject/vch/tests/fixture"
)

// rmi -f of an image a stopped container uses deletes the image (docker
// prints Deleted) but not the container's root filesystem: the container
// still starts, as docker keeps the layers.
func TestRmiForceKeepsStoppedContainerRunnable(t *testing.T) {
	layer, err := fixture.BuildLayer([]fixture.Entry{{Path: "marker.txt", Data: []byte("still here\n")}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.WithLayer(env.bbImage, fixture.ImageConfig{Cmd: []string{"cat", "/marker.txt"}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.registry.Push(context.Background(), "rmiforce", "v1", img); err != nil {
		t.Fatal(err)
	}
	ref := env.registry.Addr + "/rmiforce:v1"
	mustDocker(t, "pull", ref)
	name := uniqueName(t)
	if got := mustDocker(t, "run", "--name", name, ref); got != "still here\n" {
		t.Fatalf("first run: %q", got)
	}
	defer docker(t, "rm", "-f", name)
	out := mustDocker(t, "rmi", "-f", strings.TrimPrefix(img.ID(), "sha256:")[:12])
	if !strings.Contains(out, "Deleted: "+img.ID()) {
		t.Fatalf("rmi -f printed:\n%s", out)
	}
	if r := docker(t, "image", "inspect", ref); r.Exit == 0 {
		t.Fatalf("image still there after rmi -f: %s", r)
	}
	if got := mustDocker(t, "start", "-a", name); got != "still here\n" {
		t.Fatalf("start after rmi -f: %q", got)
	}
	if got := mustDocker(t, "ps", "-a", "--filter", "name="+name, "--format", "{{.Image}}"); !strings.HasPrefix(got, "sha256:") && !strings.HasPrefix(got, strings.TrimPrefix(img.ID(), "sha256:")[:12]) {
		t.Fatalf("ps IMAGE after rmi -f: %q", got)
	}
}
