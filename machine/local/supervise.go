package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vchproject/vch/machine/lockfile"
	"github.com/vchproject/vch/machine/vchconfig"
)

// Supervision. systemd is not PID 1 everywhere (nor on this project's
// machines), so a VCH's vchd runs under a small supervisor of its own:
// `vic-machine supervise`, started detached by create and start. It holds
// ROOT/supervisor.lock, runs vchd as its child and restarts it when it dies
// (a signal or a non-zero exit) after a back-off that starts at
// firstRestartDelay, doubles up to maxRestartDelay and starts over once a
// vchd ran for stableRun. A vchd that exits 0 was stopped on purpose (its
// SIGTERM handler): the supervisor ends too. SIGTERM to the supervisor
// stops vchd and then the supervisor (vic-machine stop and delete).
//
// A restarted vchd re-attaches to the container VMs (QEMU runs detached),
// re-publishes their ports and restarts by policy those that exited
// meanwhile, so a crash of vchd costs the API for a few seconds and
// nothing else.
const (
	firstRestartDelay = 100 * time.Millisecond
	maxRestartDelay   = 30 * time.Second
	stableRun         = 30 * time.Second
	stopGrace         = 30 * time.Second
)

// restartDelay is the back-off before the next vchd, given the last one
// and how long the vchd that died had run.
func restartDelay(prev, ran time.Duration) time.Duration {
	if prev == 0 || ran >= stableRun {
		return firstRestartDelay
	}
	return min(prev*2, maxRestartDelay)
}

// supervisorLine marks the supervisor's lines in vchd.log; waitReady looks
// for supervisorDied to tell a start-up failure.
const (
	supervisorLine = "vch-supervisor: "
	supervisorDied = "vchd ended"
)

// Supervise runs the VCH at root under supervision until ctx ends (SIGTERM)
// or vchd stops on purpose. vchd is the binary to run.
func Supervise(ctx context.Context, root, vchd string) error {
	lock, err := lockfile.Acquire(filepath.Join(root, vchconfig.SupervisorLockFile))
	if err != nil {
		var held *lockfile.HeldError
		if errors.As(err, &held) {
			return fmt.Errorf("VCH at %s is already supervised by pid %d", root, held.Pid)
		}
		return err
	}
	defer lock.Release()
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(root, vchconfig.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	say := func(format string, args ...any) {
		fmt.Fprintf(logf, "%s %s%s\n", time.Now().UTC().Format(time.RFC3339Nano), supervisorLine, fmt.Sprintf(format, args...))
	}
	say("supervising VCH %s (pid %d)", cfg.Name, os.Getpid())

	// A vchd left by a supervisor that died is adopted: watched until it
	// ends, then replaced.
	if pid := vchdPid(root); pid > 0 {
		say("adopting running vchd pid %d", pid)
		if !waitGone(ctx, pid) {
			stopPid(pid, stopGrace)
			say("stopped")
			return nil
		}
		say("%s: adopted vchd pid %d is gone", supervisorDied, pid)
	}
	var delay time.Duration
	for {
		args := []string{"--config", vchconfig.Path(root)}
		if cfg.Debug {
			args = append(args, "--debug")
		}
		cmd := exec.Command(vchd, args...)
		cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, root
		started := time.Now()
		if err := cmd.Start(); err != nil {
			say("%s: cannot start %s: %v", supervisorDied, vchd, err)
			return fmt.Errorf("start vchd: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(stopGrace):
				_ = cmd.Process.Kill()
				<-done
			}
			say("stopped vchd pid %d; supervisor exits", cmd.Process.Pid)
			return nil
		case err := <-done:
			if err == nil {
				say("vchd pid %d exited cleanly; supervisor exits", cmd.Process.Pid)
				return nil
			}
			if cmd.ProcessState.ExitCode() == vchconfig.ExitAlreadyRunning {
				say("%s: another vchd serves this VCH; supervisor exits", supervisorDied)
				return fmt.Errorf("another vchd serves the VCH at %s", root)
			}
			delay = restartDelay(delay, time.Since(started))
			say("%s: pid %d after %s (%v); restarting in %s", supervisorDied, cmd.Process.Pid, time.Since(started).Round(time.Millisecond), err, delay)
		}
		select {
		case <-ctx.Done():
			say("stopped during back-off; supervisor exits")
			return nil
		case <-time.After(delay):
		}
	}
}

// waitGone waits until pid is gone (true) or ctx ends (false).
func waitGone(ctx context.Context, pid int) bool {
	for alive(pid) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return true
}

// launchSupervisor starts `self supervise` for root, detached (its own
// session), and returns its pid.
func launchSupervisor(root, self, vchd string) (int, error) {
	logf, err := os.OpenFile(filepath.Join(root, vchconfig.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(self, "supervise", "--root", root, "--vchd", vchd)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start the VCH's supervisor: %w", err)
	}
	pid := cmd.Process.Pid
	// Reap it in the background while vic-machine lives; afterwards init
	// does.
	go func() { _ = cmd.Wait() }()
	return pid, nil
}

// logSince returns what was appended to path after offset.
func logSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 4<<20))
	return string(b)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// diedDuringStart reports whether the supervisor logged a vchd death in
// the log written since offset.
func diedDuringStart(logPath string, offset int64) bool {
	return strings.Contains(logSince(logPath, offset), supervisorLine+supervisorDied)
}

// supervisorLogStart finds where the supervisor sup began logging (its
// first line names its pid), so that only its lines count.
func supervisorLogStart(logPath string, sup int) (int64, bool) {
	size := fileSize(logPath)
	from := max(size-4<<20, 0)
	content := logSince(logPath, from)
	i := strings.LastIndex(content, fmt.Sprintf("%ssupervising VCH ", supervisorLine))
	for i >= 0 && !strings.Contains(content[i:min(len(content), i+512)], fmt.Sprintf("(pid %d)", sup)) {
		i = strings.LastIndex(content[:i], supervisorLine+"supervising VCH ")
	}
	if i < 0 {
		return 0, false
	}
	return from + int64(i), true
}
