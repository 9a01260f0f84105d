package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Host bind mounts under the VCH's --bind-allow root: -v and --mount, rw
// and read-only (EROFS inside, even after the container's root remounts
// its view read-write); a path outside the root, or a symlink inside it
// that leads out, is refused with a 403 that says why.
func TestBindMounts(t *testing.T) {
	img := pulled(t)
	dir := filepath.Join(env.bindRoot, uniqueName(t))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "host.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := vicMachine("inspect", "config", "--name", env.name); err != nil || !strings.Contains(out, "--bind-allow") {
		t.Fatalf("inspect config lacks --bind-allow: %v\n%s", err, out)
	}

	// rw: the container reads the host's file and its writes land on the host.
	name := uniqueName(t)
	got := mustDocker(t, "run", "--name", name, "-v", dir+":/h", img, "sh", "-c", "cat /h/host.txt; echo from-guest > /h/guest.txt")
	if got != "from the host\n" {
		t.Fatalf("rw bind: container read %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "guest.txt")); err != nil || string(b) != "from-guest\n" {
		t.Fatalf("the host reads %q, %v", b, err)
	}
	var mounts []struct {
		Type, Source, Destination string
		RW                        bool
	}
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", "--format", "{{json .Mounts}}", name)), &mounts); err != nil {
		t.Fatal(err)
	}
	if len(mounts) != 1 || mounts[0].Type != "bind" || mounts[0].Source != dir || mounts[0].Destination != "/h" || !mounts[0].RW {
		t.Fatalf("inspect Mounts: %+v", mounts)
	}
	mustDocker(t, "rm", name)

	// Read-only, both forms: writes fail with EROFS; a remount inside the
	// VM does not help, the host serves the directory read-only.
	for _, args := range [][]string{
		{"-v", dir + ":/h:ro"},
		{"--mount", "type=bind,source=" + dir + ",target=/h,readonly"},
	} {
		run := append(append([]string{"run", "--rm"}, args...), img, "sh", "-c",
			"cat /h/guest.txt; echo x > /h/nope; mount -o remount,rw /h; echo y > /h/nope2")
		r := docker(t, run...)
		if r.Stdout != "from-guest\n" || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Fatalf("ro bind %v: %s", args, r)
		}
		for _, f := range []string{"nope", "nope2"} {
			if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
				t.Fatalf("ro bind %v: %s was written on the host (%v)", args, f, err)
			}
		}
	}

	// Outside the allowed root: refused, nothing created.
	r := docker(t, "run", "--rm", "-v", "/etc:/h", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "bind mount of /etc refused") || !strings.Contains(r.Stderr, "is not under a directory this VCH allows") {
		t.Fatalf("bind of /etc: %s", r)
	}
	// A symlink inside the root that points out of it.
	if err := os.Symlink("/etc", filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	r = docker(t, "run", "--rm", "--mount", "type=bind,source="+filepath.Join(dir, "escape")+",target=/h", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "its target /etc is not under") {
		t.Fatalf("bind through an escaping symlink: %s", r)
	}
	// A missing directory: -v makes it (docker's behaviour), --mount
	// refuses it, and nothing is made behind a symlink that leads out.
	made := filepath.Join(dir, "made", "deeper")
	mustDocker(t, "run", "--rm", "-v", made+":/h", img, "sh", "-c", "echo hi > /h/f")
	if b, err := os.ReadFile(filepath.Join(made, "f")); err != nil || string(b) != "hi\n" {
		t.Fatalf("-v of a missing directory: host reads %q, %v", b, err)
	}
	r = docker(t, "run", "--rm", "--mount", "type=bind,source="+filepath.Join(dir, "absent")+",target=/h", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "bind source path does not exist") {
		t.Fatalf("--mount of a missing directory: %s", r)
	}
	r = docker(t, "run", "--rm", "-v", filepath.Join(dir, "escape", "vch-made")+":/h", img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "is not under") {
		t.Fatalf("-v of a missing directory behind an escaping symlink: %s", r)
	}
	if _, err := os.Stat("/etc/vch-made"); !os.IsNotExist(err) {
		t.Fatalf("a directory was made under /etc: %v", err)
	}
}
