package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/proto"
)

// Execer starts exec processes beside the main process (the tether
// implements it; see proto.ChanExec).
type Execer interface {
	// Exec starts spec. Its errors carry docker's exit codes
	// (execspec.ExitCode).
	Exec(spec proto.ExecSpec) (ExecProcess, error)
}

// ExecProcess is one started exec process.
type ExecProcess interface {
	Pid() int
	// Stdin is the process's stdin, nil without OpenStdin.
	Stdin() io.WriteCloser
	// Stdout and Stderr end (EOF) once the process exited and its output
	// is drained. Stderr is nil with a TTY.
	Stdout() io.Reader
	Stderr() io.Reader
	Resize(rows, cols uint16) error
	Signal(sig int) error
	// Wait returns the exit code once the process was reaped.
	Wait() int
	// Close releases the parent's ends of the streams after Wait.
	Close() error
}

// handleExec serves one ChanExec channel: start, stream, exit status.
func (s *Server) handleExec(nc ssh.NewChannel) {
	var spec proto.ExecSpec
	if err := json.Unmarshal(nc.ExtraData(), &spec); err != nil {
		nc.Reject(ssh.ConnectionFailed, "bad exec spec: "+err.Error())
		return
	}
	if s.Exec == nil {
		nc.Reject(ssh.Prohibited, "exec is not available")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	proc, err := s.Exec.Exec(spec)
	if err != nil {
		go ssh.DiscardRequests(reqs)
		s.log.Debug("exec failed to start", zap.Strings("args", spec.Args), zap.Error(err))
		sendJSON(ch, proto.ReqExecExit, proto.ExecExit{ExitCode: execspec.ExitCode(err), Error: err.Error()})
		return
	}
	defer proc.Close()
	sendJSON(ch, proto.ReqExecStarted, proto.ExecStarted{Pid: proc.Pid()})
	// A request is answered before the channel closes: a signal that ends
	// the process must still be acknowledged, not race the exit status.
	var reqMu sync.Mutex
	go s.execRequests(proc, reqs, &reqMu)

	var pumps sync.WaitGroup
	pump := func(w io.Writer, r io.Reader) {
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			if _, err := io.Copy(w, r); err != nil {
				// The host went away: keep draining so the process
				// never blocks on a full pipe.
				_, _ = io.Copy(io.Discard, r)
			}
		}()
	}
	pump(ch, proc.Stdout())
	if r := proc.Stderr(); r != nil {
		pump(ch.Stderr(), r)
	}
	if w := proc.Stdin(); w != nil {
		go func() {
			_, err := io.Copy(w, ch)
			if err == nil && !spec.Tty {
				w.Close()
			}
		}()
	}
	code := proc.Wait()
	pumps.Wait()
	reqMu.Lock()
	defer reqMu.Unlock()
	sendJSON(ch, proto.ReqExecExit, proto.ExecExit{ExitCode: code})
	_ = ch.CloseWrite()
	_ = ch.Close()
}

// execRequests answers the host's resize and signal requests.
func (s *Server) execRequests(proc ExecProcess, reqs <-chan *ssh.Request, mu *sync.Mutex) {
	for r := range reqs {
		mu.Lock()
		var err error
		switch r.Type {
		case proto.ReqExecResize:
			var rr proto.ResizeRequest
			if err = json.Unmarshal(r.Payload, &rr); err == nil {
				err = proc.Resize(rr.Rows, rr.Cols)
			}
		case proto.ReqExecSignal:
			var sr proto.SignalRequest
			if err = json.Unmarshal(r.Payload, &sr); err == nil {
				err = proc.Signal(sr.Signal)
			}
		default:
			err = errors.New("unknown request " + r.Type)
		}
		if err != nil {
			s.log.Debug("exec request failed", zap.String("type", r.Type), zap.Error(err))
		}
		if r.WantReply {
			if err != nil {
				r.Reply(false, []byte(err.Error()))
			} else {
				r.Reply(true, nil)
			}
		}
		mu.Unlock()
	}
}

func sendJSON(ch ssh.Channel, typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %s: %v", typ, err))
	}
	_, _ = ch.SendRequest(typ, false, b)
}
