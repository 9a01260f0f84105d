package container

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	execrouter "github.com/vchproject/vch/daemon/router/exec"
	"github.com/vchproject/vch/errdefs"
)

func TestExecSemantics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.create("web", container.Config{Cmd: []string{"sleep"}, Env: []string{"B=run"}, User: "app", WorkingDir: "/srv"}, nil)

	if _, err := e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"true"}}); !errdefs.IsConflict(err) ||
		err.Error() != "container "+id+" is not running" {
		t.Fatalf("exec in a created container: %v", err)
	}
	if _, err := e.b.ExecCreate(ctx, "nope", &container.ExecOptions{Cmd: []string{"true"}}); !errdefs.IsNotFound(err) {
		t.Fatalf("exec in an unknown container: %v", err)
	}
	e.start("web")

	// Defaults from the container; the exec's env comes after it.
	xid, err := e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"sh", "-c", "env; pwd"}, Env: []string{"A=exec"},
		AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(xid) != 64 {
		t.Fatalf("exec id %q", xid)
	}
	ei, err := e.b.ExecInspect(ctx, xid)
	if err != nil || ei.Running || ei.ExitCode != nil || ei.ContainerID != id || ei.ProcessConfig.Entrypoint != "sh" {
		t.Fatalf("inspect before start: %+v %v", ei, err)
	}
	var s streams
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, bytes.NewReader(s.bytes())); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if s.tty || !strings.Contains(got, "A=image\n") || !strings.Contains(got, "B=run\n") || !strings.HasSuffix(got, "A=exec\n/srv\n") {
		t.Fatalf("exec output (tty %v):\n%s", s.tty, got)
	}
	ei, _ = e.b.ExecInspect(ctx, xid)
	if ei.Running || ei.ExitCode == nil || *ei.ExitCode != 0 || ei.Pid == 0 {
		t.Fatalf("inspect after the exec: %+v", ei)
	}
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Detach: true}); !errdefs.IsConflict(err) {
		t.Fatalf("second start: %v", err)
	}

	// A missing command: docker's text in the stream, 126 in inspect
	// (dockerd 20.10's code for any exec that cannot start).
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"missing"}, AttachStdout: true, Tty: true})
	s = streams{}
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Tty: true, Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	if want := "OCI runtime exec failed: exec failed: unable to start container process: exec: \"missing\": executable file not found in $PATH: unknown\r\n"; string(s.bytes()) != want {
		t.Fatalf("stream %q, want %q", s.bytes(), want)
	}
	// docker-py starts a TTY exec without Tty in the start request and
	// reads frames: dockerd then frames the TTY's output as stdout.
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"missing"}, AttachStdout: true, Tty: true})
	s = streams{}
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	var fout, ferr bytes.Buffer
	if _, err := stdcopy.StdCopy(&fout, &ferr, bytes.NewReader(s.bytes())); err != nil || s.tty || !strings.HasPrefix(fout.String(), "OCI runtime exec failed") {
		t.Fatalf("framed stream %q (raw %v): %v", s.bytes(), s.tty, err)
	}
	if ei, _ = e.b.ExecInspect(ctx, xid); ei.ExitCode == nil || *ei.ExitCode != 126 {
		t.Fatalf("missing command: %+v", ei)
	}

	// Detached: the exit code shows in inspect once the process ends.
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"sh", "-c", "exit 9"}})
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Detach: true}); err != nil {
		t.Fatal(err)
	}
	for {
		if ei, _ = e.b.ExecInspect(ctx, xid); ei.ExitCode != nil {
			break
		}
		time.Sleep(time.Millisecond) // poll
	}
	if *ei.ExitCode != 9 {
		t.Fatalf("detached exit code %d", *ei.ExitCode)
	}

	// stdin reaches the process, EOF ends it.
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true})
	s = streams{in: io.NopCloser(strings.NewReader("typed\n"))}
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := stdcopy.StdCopy(&out, io.Discard, bytes.NewReader(s.bytes())); err != nil || out.String() != "typed\n" {
		t.Fatalf("exec -i output %q %v", out.String(), err)
	}

	// The detach keys end the session, not the process's stdin.
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true, Tty: true, DetachKeys: "ctrl-x"})
	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, "typed\n\x18")
	s = streams{in: pr}
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Tty: true, Streams: s.fn}); err != nil {
		t.Fatal(err)
	}
	if got := string(s.bytes()); got != "typed\n" {
		t.Fatalf("output before detaching %q", got)
	}
	xid, _ = e.b.ExecCreate(ctx, "web", &container.ExecOptions{Cmd: []string{"cat"}, AttachStdin: true, DetachKeys: "ctrl-"})
	if err := e.b.ExecStart(ctx, xid, execrouter.StartConfig{Streams: s.fn}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad detach keys: %v", err)
	}

	if _, err := e.b.ExecInspect(ctx, "deadbeef"); !errdefs.IsNotFound(err) || err.Error() != "No such exec instance: deadbeef" {
		t.Fatalf("unknown exec: %v", err)
	}
	if err := e.b.ExecResize(ctx, "deadbeef", 1, 1); !errdefs.IsNotFound(err) {
		t.Fatalf("resize of unknown exec: %v", err)
	}
}
