package main

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// supervisor runs vchd and, as PID 1, reaps every child: vchd's exit
// status goes to the run loop, orphans are just reaped.
type supervisor struct {
	log  *zap.Logger
	argv []string
	env  []string

	mu     sync.Mutex // held while starting vchd and while reaping
	pid    int        // vchd's, 0 when not running
	exited chan unix.WaitStatus
}

// start starts vchd with the console as its standard streams.
func (s *supervisor) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pid, err := syscall.ForkExec(s.argv[0], s.argv, &syscall.ProcAttr{
		Dir: "/", Env: s.env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return err
	}
	s.pid = pid
	s.log.Info("vchd started", zap.Int("pid", pid))
	return nil
}

// reap collects every exited child.
func (s *supervisor) reap() {
	for {
		var ws unix.WaitStatus
		s.mu.Lock()
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid > 0 && pid == s.pid {
			s.pid = 0
			s.exited <- ws
		}
		s.mu.Unlock()
		if pid <= 0 || err != nil {
			return
		}
	}
}

// signal sends sig to vchd, if it runs.
func (s *supervisor) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid > 0 {
		_ = syscall.Kill(s.pid, sig)
	}
}

// stopTimeout is how long vchd has to stop after SIGTERM.
const stopTimeout = 30 * time.Second

// run keeps vchd running (restarting it after an exit, backing off while
// it keeps failing) until shutdown reports; then it stops vchd (SIGTERM,
// SIGKILL after stopTimeout) and returns.
func (s *supervisor) run(shutdown <-chan string) {
	s.exited = make(chan unix.WaitStatus, 1)
	chld := make(chan os.Signal, 8)
	signal.Notify(chld, syscall.SIGCHLD)
	go func() {
		for range chld {
			s.reap()
		}
	}()
	backoff := time.Second
	for {
		started := time.Now()
		if err := s.start(); err != nil {
			s.log.Error("start vchd", zap.Error(err))
			select {
			case why := <-shutdown:
				s.log.Info("shutting down", zap.String("why", why))
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		select {
		case ws := <-s.exited:
			s.log.Error("vchd exited: restarting it", zap.Int("status", ws.ExitStatus()), zap.Bool("signaled", ws.Signaled()), zap.Duration("ran", time.Since(started)))
			if time.Since(started) > time.Minute {
				backoff = time.Second
			}
			select {
			case why := <-shutdown:
				s.log.Info("shutting down", zap.String("why", why))
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		case why := <-shutdown:
			s.log.Info("shutting down: stopping vchd", zap.String("why", why))
			s.signal(syscall.SIGTERM)
			select {
			case ws := <-s.exited:
				s.log.Info("vchd stopped", zap.Int("status", ws.ExitStatus()))
			case <-time.After(stopTimeout):
				s.log.Error("vchd did not stop in time: killing it", zap.Duration("timeout", stopTimeout))
				s.signal(syscall.SIGKILL)
				<-s.exited
			}
			return
		}
	}
}
