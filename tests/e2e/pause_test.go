package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pause stops the VM's vCPUs: output stops, exec is refused with docker's
// error, ps and inspect say Paused; unpause resumes it with the guest clock
// set right again.
func TestPauseUnpause(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	id := strings.TrimSpace(mustDocker(t, "run", "-d", "--name", name, img,
		"sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; usleep 100000; done"))
	defer docker(t, "rm", "-f", name)
	lines := func() int { return strings.Count(mustDocker(t, "logs", name), "\n") }
	poll(t, "output before the pause", func() bool { return lines() > 2 })

	mustDocker(t, "pause", name)
	if s := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}} {{.State.Running}} {{.State.Paused}}", name)); s != "paused true true" {
		t.Fatalf("inspect of a paused container: %q", s)
	}
	if ps := mustDocker(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.Contains(ps, "(Paused)") {
		t.Fatalf("ps of a paused container: %q", ps)
	}
	// Nothing runs in the guest: for 4 s of host time the output stays put.
	frozen := lines()
	pausedAt := time.Now()
	for time.Since(pausedAt) < 4*time.Second {
		if n := lines(); n != frozen {
			t.Fatalf("output grew from %d to %d lines while paused", frozen, n)
		}
		time.Sleep(200 * time.Millisecond) // poll
	}
	if r := docker(t, "exec", name, "true"); r.Exit == 0 || !strings.Contains(r.Stderr, "container "+id+" is paused, unpause the container before exec") {
		t.Fatalf("exec in a paused container: %s", r)
	}
	if r := docker(t, "pause", name); r.Exit == 0 || !strings.Contains(r.Stderr, "Container "+id+" is already paused") {
		t.Fatalf("second pause: %s", r)
	}

	mustDocker(t, "unpause", name)
	if s := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}} {{.State.Paused}}", name)); s != "running false" {
		t.Fatalf("inspect after unpause: %q", s)
	}
	poll(t, "output after unpause", func() bool { return lines() > frozen })
	// The guest clock stood still for the pause and was set right after:
	// its reading lies between the host's clock just before and just
	// after the exec that read it (an exec takes its time under TCG),
	// give or take 2 s for the setting and the whole seconds of date.
	const slack = 2
	hostBefore := time.Now().Unix()
	r := docker(t, "exec", name, "date", "+%s")
	hostAfter := time.Now().Unix()
	guest, err := strconv.ParseInt(strings.TrimSpace(r.Stdout), 10, 64)
	if err != nil {
		t.Fatalf("guest date: %s", r)
	}
	if guest < hostBefore-slack || guest > hostAfter+slack {
		t.Fatalf("guest clock %d is outside the host's [%d, %d] (±%d s) around the read, after a 4 s pause", guest, hostBefore, hostAfter, slack)
	}
	if r := docker(t, "unpause", name); r.Exit == 0 || !strings.Contains(r.Stderr, "Container "+id+" is not paused") {
		t.Fatalf("unpause of a running container: %s", r)
	}

	// A paused container can be stopped.
	mustDocker(t, "pause", name)
	mustDocker(t, "stop", "-t", "2", name)
	if s := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}} {{.State.Paused}}", name)); s != "exited false" {
		t.Fatalf("inspect after stopping a paused container: %q", s)
	}
}

// docker cp works on a paused container (docker allows it), both ways, and
// the container stays paused: its processes do not run while the copy
// runs the VM (a counter it bumps every 0.1 s reads the same in two copies
// seconds apart).
func TestCpPausedContainer(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c",
		"i=0; while true; do i=$((i+1)); echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; usleep 100000; done")
	defer docker(t, "rm", "-f", name)
	poll(t, "the counter", func() bool { return docker(t, "exec", name, "cat", "/tmp/counter").Exit == 0 })
	mustDocker(t, "pause", name)

	dir := t.TempDir()
	src := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(src, []byte("into a paused container\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", src, name+":/tmp/in.txt")
	read := func(n string) string {
		dst := filepath.Join(dir, n)
		mustDocker(t, "cp", name+":/tmp/counter", dst)
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	first := read("c1")
	second := read("c2")
	if first == "" || first != second {
		t.Fatalf("the counter moved while paused: %q then %q", first, second)
	}
	if s := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.Status}}", name)); s != "paused" {
		t.Fatalf("after docker cp the container is %q, want paused", s)
	}
	mustDocker(t, "unpause", name)
	if got := mustDocker(t, "exec", name, "cat", "/tmp/in.txt"); got != "into a paused container\n" {
		t.Fatalf("the copied file reads %q", got)
	}
	poll(t, "the counter to move after unpause", func() bool {
		r := docker(t, "exec", name, "cat", "/tmp/counter")
		return r.Exit == 0 && r.Stdout != first
	})
}
