package tetherlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// NotRunning is docker's error for a container that is not running.
func NotRunning(id string) error {
	return errdefs.Conflict(fmt.Sprintf("Container %s is not running", id))
}

// Request sends one global request (proto.Req*) to a tether.
func Request(client *ssh.Client, id, name string, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	ok, reply, err := client.SendRequest(name, true, b)
	if err != nil {
		return nil, fmt.Errorf("container %s: %s: %w", id, name, errdefs.ErrUnavailable)
	}
	if !ok {
		return nil, fmt.Errorf("container %s: %s refused: %s: %w", id, name, reply, errdefs.ErrConflict)
	}
	return reply, nil
}

// Exec starts cfg through the tether: one new proto.ChanExec channel on
// its control connection. It returns once the tether reports the process
// started (or why it could not). The caller checked the size and that
// the container runs.
func Exec(ctx context.Context, client *ssh.Client, id string, cfg compute.ExecConfig) (compute.ExecProcess, error) {
	spec, err := json.Marshal(proto.ExecSpec{
		Args: cfg.Args, Env: cfg.Env, User: cfg.User, WorkingDir: cfg.WorkingDir,
		Tty: cfg.Tty, Rows: uint16(cfg.Height), Cols: uint16(cfg.Width), OpenStdin: cfg.Stdin != nil,
	})
	if err != nil {
		return nil, err
	}
	ch, reqs, err := client.OpenChannel(proto.ChanExec, spec)
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return nil, fmt.Errorf("container %s: exec refused: %s: %w", id, oce.Message, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("container %s: exec: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	x := &execSession{id: id, ch: ch, started: make(chan struct{}), reqsDone: make(chan struct{})}
	go x.requests(reqs)
	x.outputs.Add(2)
	go x.copyOut(cfg.Stdout, ch)
	go x.copyOut(cfg.Stderr, ch.Stderr())
	if cfg.Stdin != nil {
		go func() {
			_, err := io.Copy(ch, cfg.Stdin)
			if err == nil && !cfg.Tty {
				_ = ch.CloseWrite()
			}
		}()
	}
	if started, err := x.awaitStart(ctx); err != nil {
		ch.Close()
		return nil, err
	} else if started {
		return x, nil
	}
	// No start: the tether told why, or the VM went away.
	x.outputs.Wait()
	if x.exit != nil && x.exit.Error != "" {
		return nil, &compute.ExecStartError{ExitCode: x.exit.ExitCode, Msg: x.exit.Error}
	}
	return nil, closedBeforeStart{NotRunning(id)}
}

// closedBeforeStart is NotRunning for an exec session that closed before
// the tether reported a start or a failure to start: the VM went away,
// or (if the container still runs) the control connection did.
type closedBeforeStart struct{ error }

func (e closedBeforeStart) Unwrap() error { return e.error }

// ClosedBeforeStart reports whether Exec's err is such a session.
func ClosedBeforeStart(err error) bool {
	var c closedBeforeStart
	return errors.As(err, &c)
}

// execSession is the host's end of one exec channel.
type execSession struct {
	id       string
	ch       ssh.Channel
	outputs  sync.WaitGroup
	started  chan struct{} // closed at ReqExecStarted
	reqsDone chan struct{} // closed when the tether closed the channel

	pid  int             // set before started closes
	exit *proto.ExecExit // set before reqsDone closes
}

// awaitStart waits for the tether's start report or the channel's end,
// and tells whether the process started. A quick process may have
// started, run and ended before this looks, so both are ready then: the
// start counts (requests closes started before reqsDone).
func (x *execSession) awaitStart(ctx context.Context) (bool, error) {
	select {
	case <-x.started:
		return true, nil
	case <-x.reqsDone:
		select {
		case <-x.started:
			return true, nil
		default:
			return false, nil
		}
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

func (x *execSession) requests(reqs <-chan *ssh.Request) {
	defer close(x.reqsDone)
	for req := range reqs {
		switch req.Type {
		case proto.ReqExecStarted:
			var st proto.ExecStarted
			if json.Unmarshal(req.Payload, &st) == nil && x.pid == 0 {
				x.pid = st.Pid
				close(x.started)
			}
		case proto.ReqExecExit:
			var ex proto.ExecExit
			if json.Unmarshal(req.Payload, &ex) == nil {
				x.exit = &ex
			}
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

// copyOut copies one output stream; after a failed write (the client is
// gone) it keeps draining so the process is never blocked.
func (x *execSession) copyOut(w io.Writer, r io.Reader) {
	defer x.outputs.Done()
	if w == nil {
		w = io.Discard
	}
	if _, err := io.Copy(w, r); err != nil {
		_, _ = io.Copy(io.Discard, r)
	}
}

func (x *execSession) Pid() int { return x.pid }

func (x *execSession) request(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ok, err := x.ch.SendRequest(typ, true, b)
	if err != nil {
		return fmt.Errorf("exec in container %s: %s: exec process is not running: %w", x.id, typ, errdefs.ErrConflict)
	}
	if !ok {
		return fmt.Errorf("exec in container %s: %s refused: %w", x.id, typ, errdefs.ErrConflict)
	}
	return nil
}

func (x *execSession) Resize(_ context.Context, height, width uint) error {
	if height > 0xffff || width > 0xffff {
		return fmt.Errorf("tty size %dx%d: %w", height, width, errdefs.ErrInvalidParameter)
	}
	return x.request(proto.ReqExecResize, proto.ResizeRequest{Rows: uint16(height), Cols: uint16(width)})
}

func (x *execSession) Signal(_ context.Context, sig syscall.Signal) error {
	return x.request(proto.ReqExecSignal, proto.SignalRequest{Signal: int(sig)})
}

// Wait returns the exit code once the channel closed and the output was
// written; without an exit status (the VM stopped) the code is 137.
func (x *execSession) Wait(ctx context.Context) (int, error) {
	done := make(chan struct{})
	go func() {
		x.outputs.Wait()
		<-x.reqsDone
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	x.ch.Close()
	if x.exit == nil {
		return 137, nil
	}
	return x.exit.ExitCode, nil
}
