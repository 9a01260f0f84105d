package fake

import (
	"context"
	"io"
	"sync"
	"syscall"

	"github.com/vchproject/vch/portlayer/compute"
)

// run is one boot of a container: from Start to the program's exit or Kill.
type run struct {
	p      *Provider
	v      *vm
	sigs   chan syscall.Signal
	killed chan struct{}
	once   sync.Once

	stdinR *io.PipeReader
	stdinW *io.PipeWriter

	outMu sync.Mutex // serializes output, guards subs and ended
	subs  []*sub
	ended bool
}

// sub receives a run's output: an attacher or a following log reader.
type sub struct {
	deliver func(compute.LogEntry)
	stdin   io.Reader // attachers only
	ended   chan struct{}
	endOnce sync.Once
	run     *run // set under Provider.mu once the sub is bound to a run
}

func newSub(deliver func(compute.LogEntry), stdin io.Reader) *sub {
	return &sub{deliver: deliver, stdin: stdin, ended: make(chan struct{})}
}

func (s *sub) end() { s.endOnce.Do(func() { close(s.ended) }) }

func newRun(p *Provider, v *vm, proc compute.Process) *run {
	r := &run{p: p, v: v, sigs: make(chan syscall.Signal, 16), killed: make(chan struct{})}
	r.stdinR, r.stdinW = io.Pipe()
	return r
}

// bind ties s to r and feeds its stdin; called with Provider.mu held.
func (r *run) bind(s *sub) {
	s.run = r
	if s.stdin != nil && r.v.c.Spec.Process.OpenStdin {
		go func() {
			if _, err := io.Copy(r.stdinW, s.stdin); err == nil {
				_ = r.stdinW.Close() // EOF on the caller's stdin closes the process's
			}
		}()
	}
}

func (r *run) main(prog Program, proc compute.Process) {
	pr := &Proc{Args: proc.Args, Env: proc.Env, Dir: proc.WorkingDir, Tty: proc.Tty, Signals: r.sigs, Killed: r.killed}
	if pr.Dir == "" {
		pr.Dir = "/"
	}
	pr.Stdout = &streamWriter{r: r, stream: "stdout"}
	pr.Stderr = &streamWriter{r: r, stream: "stderr"}
	if proc.Tty {
		pr.Stderr = pr.Stdout
	}
	pr.Stdin = emptyReader{}
	if proc.OpenStdin {
		pr.Stdin = r.stdinR
	}
	r.finish(prog(pr), false)
}

// finish ends the run once: with the program's code, or 137 when killed.
func (r *run) finish(code int, killed bool) {
	r.once.Do(func() {
		r.outMu.Lock()
		r.ended = true
		subs := r.subs
		r.subs = nil
		r.outMu.Unlock()
		close(r.killed)
		_ = r.stdinR.Close()

		p, v := r.p, r.v
		// The network lets go before anyone sees the exit.
		if p.Network != nil {
			_ = p.Network.Detach(context.Background(), v.c.Spec.ID)
		}
		p.mu.Lock()
		now := p.Now()
		v.run = nil
		v.finished++
		st := v.c.Status
		st.State = compute.StateExited
		st.Paused = false
		st.Pid = 0
		st.FinishedAt = now
		st.ExitCode = code
		st.Boot = append(st.Boot, compute.Step{Name: "process-exited", At: now})
		if killed {
			st.Boot = append(st.Boot, compute.Step{Name: "powered-off", At: now})
		}
		v.c.Status = st
		v.notify()
		p.mu.Unlock()
		for _, s := range subs {
			s.end()
		}
	})
}

type streamWriter struct {
	r      *run
	stream string
}

func (w *streamWriter) Write(b []byte) (int, error) {
	r := w.r
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if r.ended {
		return 0, io.ErrClosedPipe
	}
	r.p.mu.Lock()
	e := compute.LogEntry{Stream: w.stream, Time: r.p.Now(), Data: append([]byte(nil), b...)}
	r.v.logs = append(r.v.logs, e)
	r.p.mu.Unlock()
	for _, s := range r.subs {
		s.deliver(e)
	}
	return len(b), nil
}
