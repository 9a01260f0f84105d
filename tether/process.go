package tether

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/proto"
	"github.com/vchproject/vch/tether/userdb"
)

// mainProcess is the container's main process as the control channel sees
// it (it implements control.Process).
type mainProcess struct {
	started chan struct{} // closed once the process runs or cannot

	mu        sync.Mutex
	tty       bool       // the config asks for a TTY
	size      *[2]uint16 // a resize that came before the pty existed
	pid       int
	running   bool
	exited    bool
	exitCode  int
	pty       *os.File       // master, with a TTY
	stdin     io.WriteCloser // pipe or pty master; nil without OpenStdin
	stdinGone bool
	startErr  error
}

func newMainProcess() *mainProcess {
	return &mainProcess{started: make(chan struct{})}
}

// setPty installs the pty master and applies a size requested before it
// existed.
func (p *mainProcess) setPty(master *os.File) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pty = master
	if p.size != nil && master != nil {
		return setWinsize(master, p.size[0], p.size[1])
	}
	return nil
}

var (
	errNotRunning = errors.New("the process is not running")
	errNoTTY      = errors.New("the process has no TTY")
	errNoStdin    = errors.New("the process's stdin is not open")
)

func (p *mainProcess) Signal(sig int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return errNotRunning
	}
	// Only the main process, as docker signals only the container's init:
	// a process that ignores the signal keeps its children running.
	if err := unix.Kill(p.pid, unix.Signal(sig)); err != nil {
		return fmt.Errorf("signal %d: %w", sig, err)
	}
	return nil
}

func (p *mainProcess) Resize(rows, cols uint16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		return errNoTTY
	}
	if p.pty == nil {
		// Not started yet: applied when the pty is made.
		p.size = &[2]uint16{rows, cols}
		return nil
	}
	return setWinsize(p.pty, rows, cols)
}

func (p *mainProcess) State() proto.StateReply {
	p.mu.Lock()
	defer p.mu.Unlock()
	return proto.StateReply{Running: p.running, Pid: p.pid, Exited: p.exited, ExitCode: p.exitCode}
}

func (p *mainProcess) Stdin() (io.WriteCloser, bool, error) {
	<-p.started
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.startErr != nil {
		return nil, false, p.startErr
	}
	if p.stdin == nil || p.stdinGone {
		return nil, false, errNoStdin
	}
	if p.pty != nil {
		return nopCloser{p.stdin}, false, nil
	}
	return &onceCloser{p: p}, true, nil
}

// onceCloser closes the stdin pipe once and marks stdin gone.
type onceCloser struct{ p *mainProcess }

func (o *onceCloser) Write(b []byte) (int, error) { return o.p.stdin.Write(b) }
func (o *onceCloser) Close() error {
	o.p.mu.Lock()
	defer o.p.mu.Unlock()
	if o.p.stdinGone {
		return nil
	}
	o.p.stdinGone = true
	return o.p.stdin.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// failed records that the process could not start.
func (p *mainProcess) failed(err error) {
	p.mu.Lock()
	p.startErr = err
	p.mu.Unlock()
	close(p.started)
}

// execPlan is everything needed to fork the main process.
type execPlan struct {
	path string
	args []string
	env  []string
	dir  string
	user userdb.Exec
}

// plan resolves user, environment, working directory and the command
// inside root. The main process's working directory is created if
// missing (as dockerd does); an exec's must exist (runc's chdir error,
// exit 126). Its errors carry docker's exit codes (execspec.ExitCode).
func plan(root string, c *proto.Config, exec bool) (*execPlan, error) {
	pr := c.Process
	if len(pr.Args) == 0 {
		return nil, &execspec.Error{Msg: "no command specified", ExitCode: execspec.ExitStartFailed}
	}
	passwd, err := readInRoot(root, "/etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := readInRoot(root, "/etc/group")
	if err != nil {
		return nil, err
	}
	users, err := userdb.ParsePasswd(bytes.NewReader(passwd))
	if err != nil {
		return nil, err
	}
	groups, err := userdb.ParseGroup(bytes.NewReader(group))
	if err != nil {
		return nil, err
	}
	u, err := userdb.Resolve(pr.User, users, groups)
	if err != nil {
		return nil, err
	}
	if err := u.AddGroups(pr.GroupAdd, groups); err != nil {
		return nil, err
	}
	env := execspec.Env(pr.Env, c.Hostname, u.Home, pr.Tty)
	dir := pr.WorkingDir
	if dir == "" {
		dir = "/"
	}
	dir = filepath.Clean("/" + dir)
	hostDir, err := execspec.InRoot(root, dir)
	if err != nil {
		return nil, err
	}
	if exec {
		if fi, err := os.Stat(hostDir); err != nil || !fi.IsDir() {
			why := "no such file or directory"
			if err == nil {
				why = "not a directory"
			}
			return nil, &execspec.Error{Msg: fmt.Sprintf("chdir to cwd (%q) set in config.json failed: %s", dir, why), ExitCode: execspec.ExitNotExecutable}
		}
	} else if err := os.MkdirAll(hostDir, 0o755); err != nil {
		return nil, fmt.Errorf("working directory %s: %w", dir, err)
	}
	pathEnv, _ := execspec.Lookup(env, "PATH")
	path, err := execspec.LookPath(root, dir, pr.Args[0], pathEnv)
	if err != nil {
		return nil, err
	}
	return &execPlan{path: path, args: pr.Args, env: env, dir: dir, user: u}, nil
}

func readInRoot(root, p string) ([]byte, error) {
	b, err := execspec.ReadFileInRoot(root, p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// stdio holds the parent's and the child's ends of the main process's
// standard streams.
type stdio struct {
	child  [3]*os.File
	stdin  io.WriteCloser // parent's end of stdin
	pty    *os.File
	stdout io.Reader // pty master or stdout pipe
	stderr io.Reader // nil with a TTY
}

func openStdio(root string, pr proto.Process, uid uint32) (*stdio, error) {
	s := &stdio{}
	if pr.Tty {
		master, slave, err := openPty(filepath.Join(root, "dev/ptmx"))
		if err != nil {
			return nil, err
		}
		unix.Fchown(int(slave.Fd()), int(uid), -1)
		s.pty, s.stdout = master, master
		s.child = [3]*os.File{slave, slave, slave}
		if pr.OpenStdin {
			s.stdin = master
		}
		return s, nil
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	s.stdout, s.stderr = outR, errR
	s.child[1], s.child[2] = outW, errW
	if pr.OpenStdin {
		inR, inW, err := os.Pipe()
		if err != nil {
			s.closeChild()
			return nil, err
		}
		s.child[0], s.stdin = inR, inW
	} else {
		null, err := os.Open(os.DevNull)
		if err != nil {
			s.closeChild()
			return nil, err
		}
		s.child[0] = null
	}
	return s, nil
}

// closeChild closes the child's ends in the parent.
func (s *stdio) closeChild() {
	seen := map[*os.File]bool{}
	for _, f := range s.child {
		if f != nil && !seen[f] {
			seen[f] = true
			f.Close()
		}
	}
}

// fork starts the plan chrooted into root with the given stdio.
func (e *execPlan) fork(root string, s *stdio, tty bool) (int, error) {
	var fds [3]uintptr
	for i, f := range s.child {
		// Fd puts the file in blocking mode, which the child expects.
		fds[i] = f.Fd()
	}
	return syscall.ForkExec(e.path, e.args, &syscall.ProcAttr{
		Dir:   e.dir,
		Env:   e.env,
		Files: fds[:],
		Sys: &syscall.SysProcAttr{
			Chroot:     root,
			Credential: &syscall.Credential{Uid: e.user.UID, Gid: e.user.GID, Groups: e.user.Groups},
			Setsid:     true,
			Setctty:    tty,
			Ctty:       0,
		},
	})
}

// forkError turns an exec failure into an error with docker's exit code.
func forkError(path string, err error) error {
	code := execspec.ExitStartFailed
	switch {
	case errors.Is(err, unix.ENOENT):
		code = execspec.ExitNotFound
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM), errors.Is(err, unix.ENOEXEC):
		code = execspec.ExitNotExecutable
	}
	return &execspec.Error{Msg: fmt.Sprintf("exec %s: %v", path, err), ExitCode: code}
}
