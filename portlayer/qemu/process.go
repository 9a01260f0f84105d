package qemu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ProcessSpec says how to launch the VM process.
type ProcessSpec struct {
	Path   string   // executable
	Args   []string // arguments without argv[0]
	Dir    string   // working directory
	Output string   // file receiving stdout and stderr
	// Files are inherited by the VM process as fds 3, 4, ... (taps).
	Files []*os.File
	// DieWithParent has the kernel kill the process when vchd dies (a
	// template build, which nothing would otherwise finish or end);
	// container VMs outlive vchd.
	DieWithParent bool
}

// Process is a launched or re-attached VM process.
type Process interface {
	Pid() int
	// Wait blocks until the process exits. Any number of callers may wait.
	Wait()
	Kill() error
}

// ProcessRunner launches VM processes.
type ProcessRunner interface {
	Start(spec ProcessSpec) (Process, error)
}

// execRunner starts QEMU in a new session (its own process group, no
// controlling terminal), stdin from /dev/null and output to a file, so it
// outlives vchd.
type execRunner struct{}

func (execRunner) Start(spec ProcessSpec) (Process, error) {
	out, err := os.OpenFile(spec.Output, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.ExtraFiles = spec.Files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if spec.DieWithParent {
		// Sent when the forking thread exits; Go ends an OS thread only
		// when a goroutine locked to it exits, and this one is not locked.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", spec.Path, err)
	}
	c := &childProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

type childProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *childProcess) Pid() int { return c.cmd.Process.Pid }
func (c *childProcess) Wait()    { <-c.done }
func (c *childProcess) Kill() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	err := c.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// pidProcess is a VM process of an earlier vchd, followed through a pidfd.
type pidProcess struct {
	pid    int
	mu     sync.Mutex // guards fd against reuse after close
	fd     int
	closed bool
	done   chan struct{}
}

// adoptProcess re-attaches to the QEMU of pidfile if it is still running
// in dir. It returns nil if that process is gone (or the pid was reused).
func adoptProcess(dir, qemu string) *pidProcess { return adoptPidFile(dir, filePid, qemu) }

// adoptPidFile is adoptProcess for the pid file name in dir.
func adoptPidFile(dir, name, qemu string) *pidProcess {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil
	}
	// Checked after the pidfd is held, so the pid cannot be reused under us.
	if !isOurQEMU(pid, dir, qemu) {
		unix.Close(fd)
		return nil
	}
	p := &pidProcess{pid: pid, fd: fd, done: make(chan struct{})}
	go p.poll()
	return p
}

// isOurQEMU tells whether pid is a live (not zombie) QEMU whose working
// directory is dir.
func isOurQEMU(pid int, dir, qemu string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	if filepath.Base(argv0) != filepath.Base(qemu) {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return false
	}
	want, err := filepath.EvalSymlinks(dir)
	if err != nil {
		want = dir
	}
	return cwd == want || cwd == dir
}

func (p *pidProcess) poll() {
	defer close(p.done)
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n > 0 {
			p.mu.Lock()
			unix.Close(p.fd)
			p.closed = true
			p.mu.Unlock()
			return
		}
	}
}

func (p *pidProcess) Pid() int { return p.pid }
func (p *pidProcess) Wait()    { <-p.done }
func (p *pidProcess) Kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	err := unix.PidfdSendSignal(p.fd, unix.SIGKILL, nil, 0)
	if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EBADF) {
		return nil
	}
	return err
}
