package e2e

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// streamDocker starts a long-running docker CLI command in v's namespace
// (logs -f, attach) and returns its stdin and a channel of its output
// lines; the command is killed at the end of the test.
func (v *netVCH) streamDocker(t *testing.T, args ...string) (io.WriteCloser, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	argv := append(append(v.nsenter(), "docker"), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = v.environ()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return stdin, lines
}

// awaitLine reads lines until match accepts one; it fails after 3 minutes
// or when the stream ends.
func awaitLine(t *testing.T, what string, lines <-chan string, match func(string) bool) string {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: stream ended; got %q", what, seen)
			}
			if match(l) {
				return l
			}
			seen = append(seen, l)
		case <-deadline:
			t.Fatalf("%s: timed out; got %q", what, seen)
		}
	}
}

func tickNumber(line string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(line, "tick-"))
	if err != nil || !strings.HasPrefix(line, "tick-") {
		return -1
	}
	return n
}

// After kill -9 of vchd under supervision, docker logs -f follows a
// running container's new output again and docker attach reaches a
// running container's stdin and stdout again.
func TestLogsAndAttachAfterVCHDKill(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)
	v.must(t, "run", "-d", "--name", "ticker", img, "sh", "-c", "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 1; done")
	v.must(t, "run", "-di", "--name", "echoer", img, "sh", "-c", "while read l; do echo got-$l; done")

	// Both work before the kill.
	_, follow := v.streamDocker(t, "logs", "-f", "ticker")
	before := tickNumber(awaitLine(t, "logs -f before the kill", follow, func(l string) bool { return tickNumber(l) >= 2 }))
	in, att := v.streamDocker(t, "attach", "echoer")
	poll(t, "attach before the kill to echo", func() bool {
		_, _ = io.WriteString(in, "one\n")
		select {
		case l := <-att:
			return l == "got-one"
		case <-time.After(2 * time.Second):
			return false
		}
	})

	old := signalVCHD(t, v.root, syscall.SIGKILL)
	poll(t, "the supervisor to bring vchd back", func() bool { return v.dockerNS("version").Exit == 0 })
	if now := pidOf(t, filepath.Join(v.root, "vchd.pid")); now == old {
		t.Fatalf("vchd pid unchanged (%d)", now)
	}
	if st := v.must(t, "inspect", "--format", "{{.State.Running}}", "ticker", "echoer"); st != "true\ntrue\n" {
		t.Fatalf("containers after the restart: %q", st)
	}

	// logs -f: the old output, then new ticks as they come.
	_, follow = v.streamDocker(t, "logs", "-f", "ticker")
	awaitLine(t, "logs -f after the kill: old output", follow, func(l string) bool { return tickNumber(l) == before })
	latest := tickNumber(awaitLine(t, "logs -f after the kill: current output", follow, func(l string) bool { return tickNumber(l) > before }))
	awaitLine(t, "logs -f after the kill: output written after it started", follow, func(l string) bool { return tickNumber(l) >= latest+3 })

	// attach: stdin reaches the process, its output comes back.
	in, att = v.streamDocker(t, "attach", "echoer")
	poll(t, "attach after the kill to echo", func() bool {
		_, _ = io.WriteString(in, "two\n")
		select {
		case l := <-att:
			return l == "got-two"
		case <-time.After(2 * time.Second):
			return false
		}
	})
	v.must(t, "rm", "-f", "ticker", "echoer")
}
