package container

import (
	"errors"
	"syscall"
	"time"
)

// The stop sequence, as a pure step function (no clock, no I/O): the
// driver in stop.go performs each action and feeds back what it observed.
//
//	send stop signal -> wait timeout (2 s if the signal failed; forever if
//	the timeout is negative) -> SIGKILL -> wait killWait -> power off ->
//	wait powerOffWait -> give up.
//
// Any wait that sees the container not running ends the sequence.

// Waits of the later phases; docker waits 2 s after its kill attempt.
const (
	signalFailedWait = 2 * time.Second
	killWait         = 2 * time.Second
	powerOffWait     = 10 * time.Second
)

type stopPhase int

const (
	phaseBegin stopPhase = iota
	phaseSignalSent
	phaseSignalWaited
	phaseKillSent
	phaseKillWaited
	phasePowerOffSent
	phasePowerOffWaited
)

type actionKind int

const (
	actSignal   actionKind = iota // send Signal
	actWait                       // wait up to Wait (Forever: no limit) for not-running
	actPowerOff                   // compute.Kill
	actDone                       // the container stopped
	actFail                       // give up with Err
)

type stopAction struct {
	Kind    actionKind
	Signal  syscall.Signal
	Wait    time.Duration
	Forever bool
	Err     error
}

// stopObservation is what the driver saw doing the last action.
type stopObservation struct {
	Stopped bool  // a wait saw the container not running
	Err     error // the signal or power-off failed
}

// errStopTimeout: the container survived SIGKILL and power-off.
var errStopTimeout = errors.New("container did not stop after SIGKILL and power-off")

// stopMachine is the state of one stop.
type stopMachine struct {
	Signal  syscall.Signal
	Timeout int // seconds; < 0 waits forever
	phase   stopPhase
	sigErr  error
}

// next consumes the observation of the previous action and returns the next.
func (s *stopMachine) next(obs stopObservation) stopAction {
	switch s.phase {
	case phaseBegin:
		s.phase = phaseSignalSent
		return stopAction{Kind: actSignal, Signal: s.Signal}
	case phaseSignalSent:
		s.phase = phaseSignalWaited
		s.sigErr = obs.Err
		switch {
		case obs.Err != nil:
			return stopAction{Kind: actWait, Wait: signalFailedWait}
		case s.Timeout < 0:
			return stopAction{Kind: actWait, Forever: true}
		default:
			return stopAction{Kind: actWait, Wait: time.Duration(s.Timeout) * time.Second}
		}
	case phaseSignalWaited:
		if obs.Stopped {
			return stopAction{Kind: actDone}
		}
		if s.Timeout < 0 && s.sigErr == nil {
			// Waiting forever ended without an exit: the wait was canceled.
			return stopAction{Kind: actFail, Err: obs.Err}
		}
		s.phase = phaseKillSent
		return stopAction{Kind: actSignal, Signal: syscall.SIGKILL}
	case phaseKillSent:
		s.phase = phaseKillWaited
		return stopAction{Kind: actWait, Wait: killWait}
	case phaseKillWaited:
		if obs.Stopped {
			return stopAction{Kind: actDone}
		}
		s.phase = phasePowerOffSent
		return stopAction{Kind: actPowerOff}
	case phasePowerOffSent:
		s.phase = phasePowerOffWaited
		return stopAction{Kind: actWait, Wait: powerOffWait}
	default:
		if obs.Stopped {
			return stopAction{Kind: actDone}
		}
		return stopAction{Kind: actFail, Err: errStopTimeout}
	}
}
