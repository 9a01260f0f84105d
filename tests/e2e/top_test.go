package e2e

import (
	"strings"
	"testing"
)

// top lists the processes inside the VM, as ps with the given options.
func TestTop(t *testing.T) {
	name, _ := runningContainer(t)
	mustDocker(t, "exec", "-d", "-u", "app", name, "sleep", "777")
	var out string
	poll(t, "the exec'd process in top", func() bool {
		out = mustDocker(t, "top", name)
		return strings.Contains(out, "sleep 777")
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "UID PID PPID C STIME TTY TIME CMD" {
		t.Fatalf("top titles: %q", lines[0])
	}
	var main, exec string
	for _, l := range lines[1:] {
		switch {
		case strings.HasSuffix(l, "sleep 1000"):
			main = l
		case strings.HasSuffix(l, "sleep 777"):
			exec = l
		}
	}
	if !strings.HasPrefix(main, "root") || !strings.HasPrefix(exec, "app") {
		t.Fatalf("top rows: main %q exec %q in\n%s", main, exec, out)
	}
	// The tether (PID 1) and kernel threads are not the container's.
	if strings.Contains(out, "tether") || strings.Contains(out, "kthreadd") {
		t.Fatalf("top shows what is not the container's:\n%s", out)
	}
	out = mustDocker(t, "top", name, "aux")
	if f := strings.Fields(strings.SplitN(out, "\n", 2)[0]); strings.Join(f, " ") != "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND" {
		t.Fatalf("top aux titles: %q", out)
	}
	out = mustDocker(t, "top", name, "-o", "pid,user,args")
	if !strings.HasPrefix(out, "PID") || !strings.Contains(out, "app") || !strings.Contains(out, "sleep 777") {
		t.Fatalf("top -o pid,user,args:\n%s", out)
	}
	if r := docker(t, "top", name, "--forest"); r.Exit == 0 || !strings.Contains(r.Stderr, "unsupported option") {
		t.Fatalf("top with an unknown option: %s", r)
	}
	mustDocker(t, "stop", "-t", "1", name)
	if r := docker(t, "top", name); r.Exit == 0 || !strings.Contains(r.Stderr, "is not running") {
		t.Fatalf("top of a stopped container: %s", r)
	}
}
