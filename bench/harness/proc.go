package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// Daemon is a long-running process the harness started, in its own process
// group, with its output in a log file.
type Daemon struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // path of the combined stdout/stderr
	done chan struct{}
	err  error
}

// StartDaemon starts name with args, logging to logPath.
func StartDaemon(log *zap.Logger, name, logPath string, args ...string) (*Daemon, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("harness: %s log: %w", name, err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("harness: start %s: %w", name, err)
	}
	d := &Daemon{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		d.err = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	log.Info("started", zap.String("daemon", name), zap.Int("pid", cmd.Process.Pid), zap.String("log", logPath))
	return d, nil
}

// Pid returns the daemon's process id.
func (d *Daemon) Pid() int { return d.Cmd.Process.Pid }

// Exited reports whether the daemon has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace, then kills the whole process
// group. It returns once the daemon has been reaped.
func (d *Daemon) Stop(grace time.Duration) error {
	if d.Exited() {
		return nil
	}
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	if err := syscall.Kill(-d.Pid(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("harness: kill %s: %w", d.Name, err)
	}
	<-d.done
	return nil
}

// poll calls ready every interval until it returns nil, ctx ends, or the
// daemon (if given) exits.
func poll(ctx context.Context, d *Daemon, timeout time.Duration, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if last = ready(ctx); last == nil {
			return nil
		}
		if d != nil && d.Exited() {
			return fmt.Errorf("harness: %s exited (see %s): %v", d.Name, d.Log, d.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("harness: not ready after %s: %w", timeout, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
