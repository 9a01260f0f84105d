package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"go.uber.org/zap"

	execrouter "github.com/vchproject/vch/daemon/router/exec"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// execKeep is how long a finished exec stays inspectable.
const execKeep = 10 * time.Minute

// execStartTimeout bounds how long a resize waits for its exec to start.
const execStartTimeout = 10 * time.Second

// execStore holds the execs of this vchd, as docker keeps them: in memory,
// by ID. The zero value is ready.
type execStore struct {
	mu sync.Mutex
	m  map[string]*execInstance
}

// execInstance is one docker exec.
type execInstance struct {
	id, containerID string
	opts            container.ExecOptions
	cfg             compute.ExecConfig // resolved at create (env, user, dir)
	started         chan struct{}      // closed once the process runs or could not

	mu       sync.Mutex
	claimed  bool // a start was accepted
	running  bool
	exitCode *int
	pid      int
	proc     compute.ExecProcess
	ended    time.Time
}

func (s *execStore) add(x *execInstance, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*execInstance{}
	}
	for id, old := range s.m {
		old.mu.Lock()
		stale := old.exitCode != nil && now.Sub(old.ended) > execKeep
		old.mu.Unlock()
		if stale {
			delete(s.m, id)
		}
	}
	s.m[x.id] = x
}

func (s *execStore) get(id string) (*execInstance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[id]
	if !ok {
		return nil, errdefs.NotFound("No such exec instance: " + id)
	}
	return x, nil
}

// running lists the IDs of the running execs of a container (inspect's
// ExecIDs).
func (s *execStore) running(containerID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, x := range s.m {
		x.mu.Lock()
		if x.containerID == containerID && x.exitCode == nil {
			ids = append(ids, id)
		}
		x.mu.Unlock()
	}
	sort.Strings(ids)
	return ids
}

func containerNotRunning(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is not running", id))
}

// runningContainer resolves name and checks that docker may exec in it.
func (b *Backend) runningContainer(ctx context.Context, name string) (compute.Container, *Meta, error) {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return c, nil, err
	}
	if c.Status.State != compute.StateRunning {
		return c, nil, containerNotRunning(c.Spec.ID)
	}
	if c.Status.Paused {
		return c, nil, containerPaused(c.Spec.ID)
	}
	return c, m, nil
}

// ExecCreate registers an exec with docker's defaults: the container's
// environment with the exec's additions, its user and working directory
// unless the exec names its own.
func (b *Backend) ExecCreate(ctx context.Context, name string, opts *container.ExecOptions) (string, error) {
	c, m, err := b.runningContainer(ctx, name)
	if err != nil {
		return "", err
	}
	proc := c.Spec.Process
	cfg := compute.ExecConfig{
		Args:       append([]string(nil), opts.Cmd...),
		Env:        append(append([]string(nil), proc.Env...), opts.Env...),
		User:       proc.User,
		WorkingDir: proc.WorkingDir,
		Tty:        opts.Tty,
	}
	if opts.User != "" {
		cfg.User = opts.User
	}
	if opts.WorkingDir != "" {
		cfg.WorkingDir = opts.WorkingDir
	}
	if opts.ConsoleSize != nil {
		cfg.Height, cfg.Width = opts.ConsoleSize[0], opts.ConsoleSize[1]
	}
	x := &execInstance{id: newID(), containerID: c.Spec.ID, opts: *opts, cfg: cfg, started: make(chan struct{})}
	b.execs.add(x, b.now())
	b.event(c.Spec.ID, m, events.Action(string(events.ActionExecCreate)+": "+strings.Join(opts.Cmd, " ")), map[string]string{"execID": x.id})
	b.log.Debug("exec created", zap.String("exec", x.id), zap.String("container", c.Spec.ID), zap.Strings("cmd", opts.Cmd))
	return x.id, nil
}

// claim marks x started once, with docker's errors for a second start.
func (x *execInstance) claim() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.exitCode != nil:
		return errdefs.Conflict(fmt.Sprintf("Error: Exec command %s has already run", x.id))
	case x.claimed:
		return errdefs.Conflict(fmt.Sprintf("Error: Exec command %s is already running", x.id))
	}
	x.claimed = true
	return nil
}

func (x *execInstance) finish(code int, now time.Time) {
	x.mu.Lock()
	x.running, x.exitCode, x.ended = false, &code, now
	x.mu.Unlock()
}

// execStartFailure is docker's text for a process that could not start.
func execStartFailure(msg string) string {
	return "OCI runtime exec failed: exec failed: unable to start container process: " + msg + ": unknown"
}

// ExecStart runs the exec; see execrouter.Backend.
func (b *Backend) ExecStart(ctx context.Context, id string, sc execrouter.StartConfig) error {
	x, err := b.execs.get(id)
	if err != nil {
		return err
	}
	if _, _, err := b.runningContainer(ctx, x.containerID); err != nil {
		return err
	}
	if err := x.claim(); err != nil {
		return err
	}
	keys := defaultDetachKeys
	if x.opts.DetachKeys != "" {
		if keys, err = parseDetachKeys(x.opts.DetachKeys); err != nil {
			x.finish(126, b.now())
			close(x.started)
			return errdefs.InvalidParameter(fmt.Sprintf("Invalid detach keys (%s) provided", x.opts.DetachKeys))
		}
	}
	// The client detaches with its detach keys: the stream ends, the
	// process keeps running (and keeps its stdin).
	detached := make(chan struct{})
	var detachOnce sync.Once
	released := make(chan struct{})
	defer close(released)
	cfg := x.cfg
	if sc.ConsoleSize != nil && cfg.Tty {
		cfg.Height, cfg.Width = sc.ConsoleSize[0], sc.ConsoleSize[1]
	}
	var streamOut io.Writer
	if !sc.Detach && sc.Streams != nil {
		// The start request's Tty, not the exec's, says whether the
		// stream is multiplexed (as dockerd: docker-py starts a TTY exec
		// without it and reads frames, stdout and stderr in one).
		in, out, err := sc.Streams(sc.Tty)
		if err != nil {
			x.finish(126, b.now())
			close(x.started)
			return err
		}
		stdout, stderr := outputs(out, sc.Tty)
		streamOut = stdout
		if x.opts.AttachStdout {
			cfg.Stdout = stdout
		}
		if x.opts.AttachStderr {
			cfg.Stderr = stderr
		}
		if x.opts.AttachStdin && in != nil {
			cfg.Stdin = &detachReader{r: in, keys: keys, closeOnEOF: !cfg.Tty, released: released,
				end: func() { detachOnce.Do(func() { close(detached) }) }}
		}
	}
	proc, err := b.pl.Exec(ctx, x.containerID, cfg)
	if err != nil {
		close(x.started)
		var se *compute.ExecStartError
		if errors.As(err, &se) {
			// dockerd 20.10 (Debian's docker.io, measured) gives every
			// exec that cannot start exit code 126, a missing command
			// included (docker-py 5.0.3's exec_run test expects it);
			// only a container's main process gets 127.
			x.finish(126, b.now())
			err = errdefs.InvalidParameter(execStartFailure(se.Msg))
		} else {
			x.finish(126, b.now())
		}
		if streamOut == nil {
			return err
		}
		// The stream is open: docker reports the failure in it.
		_, _ = fmt.Fprintf(streamOut, "%v\r\n", err)
		return nil
	}
	x.mu.Lock()
	x.running, x.pid, x.proc = true, proc.Pid(), proc
	x.mu.Unlock()
	close(x.started)
	b.eventByID(ctx, x.containerID, events.Action(string(events.ActionExecStart)+": "+strings.Join(x.opts.Cmd, " ")), map[string]string{"execID": x.id})
	wait := func() {
		// Until the process ends, or vchd shuts down (Close).
		code, err := proc.Wait(b.ctx)
		if err != nil {
			b.log.Debug("exec wait", zap.String("exec", x.id), zap.Error(err))
			return
		}
		x.finish(code, b.now())
		b.log.Debug("exec exited", zap.String("exec", x.id), zap.Int("exitCode", code))
		b.eventByID(b.ctx, x.containerID, events.ActionExecDie, map[string]string{"execID": x.id, "exitCode": strconv.Itoa(code)})
	}
	b.bg.Add(1)
	exited := make(chan struct{})
	go func() {
		defer b.bg.Done()
		defer close(exited)
		wait()
	}()
	if sc.Detach || sc.Streams == nil {
		return nil
	}
	select {
	case <-exited:
	case <-detached:
		b.log.Debug("exec detached", zap.String("exec", x.id))
	}
	return nil
}

// ExecResize sets the TTY size of a running exec, waiting for it to start.
func (b *Backend) ExecResize(ctx context.Context, id string, height, width uint) error {
	x, err := b.execs.get(id)
	if err != nil {
		return err
	}
	t := time.NewTimer(execStartTimeout)
	defer t.Stop()
	select {
	case <-x.started:
	case <-t.C:
		return errdefs.Conflict(fmt.Sprintf("exec %s: timeout waiting for exec session ready", id))
	case <-ctx.Done():
		return ctx.Err()
	}
	x.mu.Lock()
	proc, running := x.proc, x.running
	x.mu.Unlock()
	if proc == nil || !running {
		return errdefs.Conflict(fmt.Sprintf("exec %s is not running", id))
	}
	return proc.Resize(ctx, height, width)
}

// ExecInspect answers GET /exec/{id}/json in docker's shape.
func (b *Backend) ExecInspect(_ context.Context, id string) (*execrouter.Inspect, error) {
	x, err := b.execs.get(id)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	priv := x.opts.Privileged
	pc := &execrouter.ProcessConfig{Tty: x.opts.Tty, Entrypoint: x.opts.Cmd[0], Arguments: append([]string{}, x.opts.Cmd[1:]...),
		Privileged: &priv, User: x.opts.User}
	ei := &execrouter.Inspect{
		ID: x.id, Running: x.running, ProcessConfig: pc,
		OpenStdin: x.opts.AttachStdin, OpenStdout: x.opts.AttachStdout, OpenStderr: x.opts.AttachStderr,
		ContainerID: x.containerID, Pid: x.pid,
	}
	if x.exitCode != nil {
		code := *x.exitCode
		ei.ExitCode = &code
	}
	if x.opts.DetachKeys != "" {
		ei.DetachKeys = []byte(x.opts.DetachKeys)
	}
	return ei, nil
}
