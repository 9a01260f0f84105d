package container

import (
	"fmt"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/vchproject/vch/errdefs"
)

// Restart policy, docker's rules as pure functions; watch.go drives them.
//
// After a run ends, a container restarts if its policy says so for the exit
// code: always; unless-stopped unless it was stopped or killed by the user;
// on-failure for a non-zero code, at most MaximumRetryCount times (0: no
// limit). A stop, a kill with SIGKILL or the stop signal cancels the restart
// outright. Between runs the container is "restarting" for a delay that
// starts at 100 ms, doubles up to a minute, and falls back to 100 ms after a
// run of 10 s or more. When vchd starts, stopped containers whose policy
// asks for it (the user's stop cancels only unless-stopped) are started.

const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// shouldRestart is docker's restart manager decision.
func shouldRestart(p container.RestartPolicy, exitCode int, manuallyStopped bool, restartCount int) bool {
	switch {
	case p.IsAlways():
		return true
	case p.IsUnlessStopped():
		return !manuallyStopped
	case p.IsOnFailure():
		if p.MaximumRetryCount == 0 || restartCount < p.MaximumRetryCount {
			return exitCode != 0
		}
	}
	return false
}

// restartDelay is the back-off before the next restart, given the previous
// delay (0: none yet) and how long the last run lasted.
func restartDelay(prev, ranFor time.Duration) time.Duration {
	if ranFor >= restartResetAfter {
		prev = 0
	}
	d := prev
	switch {
	case d == 0:
		d = restartFirstDelay
	case d < restartMaxDelay:
		d *= 2
	}
	return min(d, restartMaxDelay)
}

// validateRestart is docker's create-time check of the policy.
func validateRestart(hc *container.HostConfig) error {
	p := hc.RestartPolicy
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped, container.RestartPolicyDisabled:
		if p.MaximumRetryCount != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaximumRetryCount < 0 {
				msg += " and cannot be negative"
			}
			return errdefs.InvalidParameter(msg)
		}
	case container.RestartPolicyOnFailure:
		if p.MaximumRetryCount < 0 {
			return errdefs.InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
		}
	case "":
	default:
		return errdefs.InvalidParameter(fmt.Sprintf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'",
			p.Name, container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyOnFailure, container.RestartPolicyUnlessStopped))
	}
	if hc.AutoRemove && !p.IsNone() {
		return errdefs.InvalidParameter("can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

// cancelsRestart reports whether a kill with sig is the user stopping the
// container (docker: SIGKILL, the stop signal, or any signal when the
// container has no StopSignal).
func cancelsRestart(sig syscall.Signal, stopSignal string) bool {
	if stopSignal == "" || sig == syscall.SIGKILL {
		return true
	}
	want, err := parseSignal(stopSignal)
	return err == nil && want == sig
}
