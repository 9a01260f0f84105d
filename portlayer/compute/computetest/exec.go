package computetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// running creates and starts a container that runs until a signal.
func (s *suite) running(ctx context.Context, t *testing.T, p compute.Provider) string {
	t.Helper()
	id := s.create(ctx, t, p, CmdSleep)
	startOK(ctx, t, p, id)
	t.Cleanup(func() { _ = p.Kill(context.Background(), id) })
	return id
}

func execOK(ctx context.Context, t *testing.T, p compute.Provider, id string, cfg compute.ExecConfig) compute.ExecProcess {
	t.Helper()
	x, err := p.Exec(ctx, id, cfg)
	if err != nil {
		t.Fatalf("exec %v: %v", cfg.Args, err)
	}
	if x.Pid() <= 0 {
		t.Fatalf("exec %v: pid %d", cfg.Args, x.Pid())
	}
	return x
}

func waitExec(ctx context.Context, t *testing.T, x compute.ExecProcess) int {
	t.Helper()
	code, err := x.Wait(ctx)
	if err != nil {
		t.Fatalf("exec wait: %v", err)
	}
	return code
}

// until polls cond until it holds or ctx ends.
func until(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// execStreams: stdout and stderr apart, exit codes, and the container's
// own status untouched.
func (s *suite) execStreams(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	var out, errOut syncBuffer
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdOutErr, Env: s.spec(t, nil).Process.Env, Stdout: &out, Stderr: &errOut})
	if code := waitExec(ctx, t, x); code != 0 || out.String() != "out\n" || errOut.String() != "err\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, out.String(), errOut.String())
	}
	x = execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdExit3})
	if code := waitExec(ctx, t, x); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if st := inspect(ctx, t, p, id).Status; st.State != compute.StateRunning {
		t.Fatalf("container after exec: %+v", st)
	}
	// The exec's output is not the container's.
	if out, errOut, _ := logs(ctx, t, p, id, compute.LogOptions{Tail: -1}); out != "" || errOut != "" {
		t.Fatalf("exec output in the container's logs: %q %q", out, errOut)
	}
}

func (s *suite) execStdin(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	var out syncBuffer
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdCat, Stdin: strings.NewReader("piped\n"), Stdout: &out})
	if code := waitExec(ctx, t, x); code != 0 || out.String() != "piped\n" {
		t.Fatalf("cat: exit %d stdout %q", code, out.String())
	}
}

func (s *suite) execIdentity(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	var out syncBuffer
	env := append(s.spec(t, nil).Process.Env, "VCH_SUITE=val")
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdExecIdentity, Env: env, User: "1000", WorkingDir: "/tmp", Stdout: &out})
	if code := waitExec(ctx, t, x); code != 0 || out.String() != "val /tmp 1000\n" {
		t.Fatalf("identity: exit %d stdout %q", code, out.String())
	}
}

func (s *suite) execTTY(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	var out syncBuffer
	pr, pw := io.Pipe()
	defer pw.Close()
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdExecSize, Tty: true, Height: 30, Width: 100, Stdin: pr, Stdout: &out})
	until(ctx, t, "initial size", func() bool { return strings.Contains(out.String(), "30 100") })
	if err := x.Resize(ctx, 40, 120); err != nil {
		t.Fatalf("resize: %v", err)
	}
	if _, err := io.WriteString(pw, "\n"); err != nil {
		t.Fatal(err)
	}
	if code := waitExec(ctx, t, x); code != 0 || !strings.Contains(out.String(), "40 120") {
		t.Fatalf("after resize: exit %d output %q", code, out.String())
	}
	// A TTY ends lines with \r\n.
	if !strings.Contains(out.String(), "30 100\r\n") {
		t.Fatalf("tty output %q", out.String())
	}
}

func (s *suite) execSignal(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdSleep})
	if err := x.Signal(ctx, syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	if code := waitExec(ctx, t, x); code != 143 {
		t.Fatalf("exit after SIGTERM %d, want 143", code)
	}
	if st := inspect(ctx, t, p, id).Status; st.State != compute.StateRunning {
		t.Fatalf("container after exec signal: %+v", st)
	}
}

func (s *suite) execBig(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.running(ctx, t, p)
	var out syncBuffer
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdExecBig, Stdout: &out})
	if code := waitExec(ctx, t, x); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := out.String()
	if len(got) != ExecBigSize || strings.Count(got, "\x00") != ExecBigSize {
		t.Fatalf("got %d bytes (%d zeros), want %d zeros", len(got), strings.Count(got, "\x00"), ExecBigSize)
	}
}

func (s *suite) execErrors(ctx context.Context, t *testing.T, p compute.Provider) {
	if _, err := p.Exec(ctx, newID(t), compute.ExecConfig{Args: CmdTrue}); !errdefs.IsNotFound(err) {
		t.Fatalf("exec in unknown container: %v", err)
	}
	id := s.create(ctx, t, p, CmdSleep)
	if _, err := p.Exec(ctx, id, compute.ExecConfig{Args: CmdTrue}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in created container: %v", err)
	}
	startOK(ctx, t, p, id)
	defer func() { _ = p.Kill(context.Background(), id) }()
	_, err := p.Exec(ctx, id, compute.ExecConfig{Args: CmdMissing})
	var se *compute.ExecStartError
	if !errors.As(err, &se) || se.ExitCode != 127 || !errdefs.IsInvalidParameter(err) {
		t.Fatalf("exec of a missing command: %v", err)
	}
	if !strings.Contains(se.Msg, "executable file not found") {
		t.Fatalf("start error text %q", se.Msg)
	}
	// An exec that outlives the container ends with it.
	var buf bytes.Buffer
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdSleep, Stdout: &buf})
	if err := p.Kill(ctx, id); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if code := waitExec(ctx, t, x); code != 137 {
		t.Fatalf("exec after the VM stopped: exit %d, want 137", code)
	}
	if _, err := p.Exec(ctx, id, compute.ExecConfig{Args: CmdTrue}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in exited container: %v", err)
	}
}
