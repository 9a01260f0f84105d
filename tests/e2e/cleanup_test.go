package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// containerDirs lists the per-container state dirs of the VCH.
func containerDirs(t *testing.T) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(env.vchRoot, "containers"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 {
			m[e.Name()] = true
		}
	}
	return m
}

func qemuCount(t *testing.T) int {
	out, _ := exec.Command("pgrep", "-f", "qemu-system-x86_64.*"+env.vchRoot).Output()
	return len(strings.Fields(string(out)))
}

// Bad input gets a clear error and leaves no VM, disk or file behind.
func TestBadInputLeavesNothing(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "create", "--name", name, img, "true")
	defer docker(t, "rm", "-f", name)
	before, vms := containerDirs(t), qemuCount(t)

	r := docker(t, "create", "--name", name, img, "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "Conflict") {
		t.Fatalf("duplicate name: %s", r)
	}
	r = docker(t, "create", env.registry.Addr+"/nosuch:latest", "true")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such image") && !strings.Contains(r.Stderr, "not found") {
		t.Fatalf("unknown image: %s", r)
	}
	// A failed start: the executable does not exist.
	bad := name + "-bad"
	r = docker(t, "run", "--name", bad, img, "/no/such/binary")
	if r.Exit != 127 || !strings.Contains(r.Stderr, "no such file or directory") && !strings.Contains(r.Stderr, "not found") {
		t.Fatalf("run of a missing executable: %s", r)
	}
	mustDocker(t, "rm", "-f", bad)
	after := containerDirs(t)
	if len(after) != len(before) {
		t.Fatalf("container dirs before %v after %v", before, after)
	}
	if n := qemuCount(t); n != vms {
		t.Fatalf("%d qemu processes before, %d after", vms, n)
	}
}

// --rm removes the container and its files.
func TestRunRmLeavesNothing(t *testing.T) {
	img := pulled(t)
	before := containerDirs(t)
	mustDocker(t, "run", "--rm", img, "true")
	waitFor(t, func() bool { return len(containerDirs(t)) == len(before) })
}
