package tether

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/proto"
)

// execDrainIdle is how long an exec's output may stay silent after the
// process exited before its stream ends: a background child that keeps
// the pipe or TTY open must not hold the session forever.
const execDrainIdle = 500 * time.Millisecond

// ptyLineWait is how long an exec's pty reader waits for the rest of a
// line it read part of. The terminal's output processing hands a line's
// text and its "\r\n" (ONLCR) to the master in two pieces, and in a TCG
// guest the reader often wakes in between; clients that read a TTY
// exec's stream chunk by chunk (docker-py's exec_start(stream=True))
// then see "hello out" and "\r\n" where dockerd gives "hello out\r\n".
const ptyLineWait = 10 * time.Millisecond

// execer starts docker exec processes in the container's root with the
// main process's user, environment and path resolution (control.Execer).
// They are children of PID 1, reaped by the one reaper, which hands their
// status to their session.
type execer struct{ t *tether }

var errNotStarted = errors.New("the container's main process is not running")

func (e execer) Exec(spec proto.ExecSpec) (control.ExecProcess, error) {
	t := e.t
	select {
	case <-t.proc.started:
	default:
		return nil, errNotStarted
	}
	if st := t.proc.State(); !st.Running {
		return nil, errNotStarted
	}
	cfg := *t.cfg
	cfg.Process = proto.Process{Args: spec.Args, Env: spec.Env, User: spec.User, GroupAdd: t.cfg.Process.GroupAdd, WorkingDir: spec.WorkingDir,
		Tty: spec.Tty, OpenStdin: spec.OpenStdin}
	pl, err := plan(t.root, &cfg, true)
	if err != nil {
		return nil, err
	}
	s, err := openStdio(t.root, cfg.Process, pl.user.UID)
	if err != nil {
		return nil, fmt.Errorf("exec stdio: %w", err)
	}
	x := &execProcess{exited: make(chan struct{})}
	if err := x.adopt(s); err != nil {
		s.closeChild()
		return nil, err
	}
	if spec.Tty && spec.Rows > 0 && spec.Cols > 0 {
		_ = x.Resize(spec.Rows, spec.Cols)
	}
	pid, status, err := t.reaper.start(func() (int, error) { return pl.fork(t.root, s, spec.Tty) })
	s.closeChild()
	if err != nil {
		x.Close()
		return nil, forkError(pl.path, err)
	}
	x.pid = pid
	go func() {
		ws := <-status
		x.mu.Lock()
		x.code, x.done = exitCode(ws), true
		x.mu.Unlock()
		close(x.exited)
		// From now on a read that sees no data for execDrainIdle ends.
		for _, f := range x.outs {
			_ = f.SetReadDeadline(time.Now().Add(execDrainIdle))
		}
	}()
	return x, nil
}

// execProcess is one exec process and the parent's ends of its streams,
// all pollable so reads can end by deadline after the exit.
type execProcess struct {
	pid    int
	stdin  io.WriteCloser
	stdout io.Reader
	stderr io.Reader
	pty    *os.File
	outs   []*os.File // stdout (pipe or pty master) and stderr pipe
	files  []*os.File // everything Close closes
	exited chan struct{}

	mu   sync.Mutex
	code int
	done bool
}

// adopt takes the parent's ends from s; a pty master is re-opened
// non-blocking so deadlines work on it.
func (x *execProcess) adopt(s *stdio) error {
	if s.pty != nil {
		fd, err := unix.Dup(int(s.pty.Fd()))
		if err != nil {
			s.pty.Close()
			return fmt.Errorf("exec pty: %w", err)
		}
		s.pty.Close()
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return fmt.Errorf("exec pty: %w", err)
		}
		m := os.NewFile(uintptr(fd), "ptmx")
		x.pty = m
		x.outs = []*os.File{m}
		x.files = []*os.File{m}
		x.stdout = &drainReader{f: m, exited: x.exited, pty: true}
		if s.stdin != nil {
			x.stdin = nopCloser{m}
		}
		return nil
	}
	for _, r := range []io.Reader{s.stdout, s.stderr} {
		f := r.(*os.File)
		x.outs = append(x.outs, f)
		x.files = append(x.files, f)
	}
	x.stdout = &drainReader{f: x.outs[0], exited: x.exited}
	x.stderr = &drainReader{f: x.outs[1], exited: x.exited}
	if s.stdin != nil {
		x.stdin = s.stdin
		if f, ok := s.stdin.(*os.File); ok {
			x.files = append(x.files, f)
		}
	}
	return nil
}

func (x *execProcess) Pid() int              { return x.pid }
func (x *execProcess) Stdin() io.WriteCloser { return x.stdin }
func (x *execProcess) Stdout() io.Reader     { return x.stdout }

func (x *execProcess) Stderr() io.Reader {
	if x.stderr == nil {
		return nil
	}
	return x.stderr
}

func (x *execProcess) Resize(rows, cols uint16) error {
	if x.pty == nil {
		return errNoTTY
	}
	rc, err := x.pty.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	}); err != nil {
		return err
	}
	return ioErr
}

func (x *execProcess) Signal(sig int) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return errNotRunning
	}
	err := unix.Kill(-x.pid, syscall.Signal(sig))
	if errors.Is(err, unix.ESRCH) {
		err = unix.Kill(x.pid, syscall.Signal(sig))
	}
	if err != nil {
		return fmt.Errorf("signal %d: %w", sig, err)
	}
	return nil
}

func (x *execProcess) Wait() int {
	<-x.exited
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.code
}

func (x *execProcess) Close() error {
	for _, f := range x.files {
		f.Close()
	}
	return nil
}

// drainReader reads an exec's output; after the exit, a read that waits
// execDrainIdle without data ends the stream, and so does EIO from a pty
// master whose slave is closed.
type drainReader struct {
	f      *os.File
	exited <-chan struct{}
	// pty: f is a pty master, whose reads wait ptyLineWait for the rest
	// of a partly read line.
	pty     bool
	pending error // an error met while completing a line, for the next Read
}

func (d *drainReader) Read(b []byte) (int, error) {
	if err := d.pending; err != nil {
		d.pending = nil
		return 0, err
	}
	exited := false
	select {
	case <-d.exited:
		// A deadline that passed while the caller was busy writing
		// must not cut off data already in the pipe.
		_ = d.f.SetReadDeadline(time.Now().Add(execDrainIdle))
		exited = true
	default:
	}
	n, err := d.f.Read(b)
	if err == nil && d.pty && n > 0 && n < len(b) && b[n-1] != '\n' {
		_ = d.f.SetReadDeadline(time.Now().Add(ptyLineWait))
		m, err2 := d.f.Read(b[n:])
		n += m
		if !exited {
			_ = d.f.SetReadDeadline(time.Time{}) // the next Read sets the drain deadline once exited
		}
		if err2 != nil && !errors.Is(err2, os.ErrDeadlineExceeded) {
			d.pending = drainErr(err2)
		}
	}
	return n, drainErr(err)
}

// drainErr is the end of an exec's stream for a read that timed out after
// the exit, or EIO from a pty master whose slave is closed.
func drainErr(err error) error {
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, unix.EIO)) {
		return io.EOF
	}
	return err
}
