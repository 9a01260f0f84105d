package fake

import (
	"context"
	"fmt"
	"io"
	"path"
	"sync"
	"syscall"

	"github.com/vchproject/vch/portlayer/compute"
)

// Exec implements compute.Execer: the program named by Args[0] runs as a
// goroutine beside the main one and ends with the VM.
func (p *Provider) Exec(_ context.Context, id string, cfg compute.ExecConfig) (compute.ExecProcess, error) {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	r := v.run
	if r == nil {
		p.mu.Unlock()
		return nil, notRunning(id)
	}
	if v.c.Status.Paused {
		p.mu.Unlock()
		return nil, pausedError(id)
	}
	if len(cfg.Args) == 0 {
		p.mu.Unlock()
		return nil, &compute.ExecStartError{ExitCode: 126, Msg: "no command specified"}
	}
	prog, ok := p.Programs[path.Base(cfg.Args[0])]
	if !ok {
		p.mu.Unlock()
		return nil, &compute.ExecStartError{ExitCode: 127, Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", cfg.Args[0])}
	}
	p.execs++
	x := &execProc{pid: 2000 + p.execs, sigs: make(chan syscall.Signal, 16), done: make(chan struct{}),
		size: [2]uint{cfg.Height, cfg.Width}}
	p.mu.Unlock()

	pr := &Proc{Args: cfg.Args, Env: cfg.Env, Dir: cfg.WorkingDir, Tty: cfg.Tty, User: cfg.User,
		Signals: x.sigs, Killed: r.killed, Size: x.getSize}
	if pr.Dir == "" {
		pr.Dir = "/"
	}
	pr.Stdin, pr.Stdout, pr.Stderr = cfg.Stdin, cfg.Stdout, cfg.Stderr
	if pr.Stdin == nil {
		pr.Stdin = emptyReader{}
	}
	if pr.Stdout == nil {
		pr.Stdout = io.Discard
	}
	if pr.Stderr == nil || cfg.Tty {
		pr.Stderr = pr.Stdout
	}
	go func() {
		x.code = prog(pr)
		close(x.done)
	}()
	return x, nil
}

type execProc struct {
	pid  int
	sigs chan syscall.Signal
	done chan struct{}
	code int

	mu   sync.Mutex
	size [2]uint
}

func (x *execProc) Pid() int { return x.pid }

func (x *execProc) getSize() (uint, uint) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.size[0], x.size[1]
}

func (x *execProc) Resize(_ context.Context, h, w uint) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.size = [2]uint{h, w}
	return nil
}

func (x *execProc) Signal(_ context.Context, sig syscall.Signal) error {
	select {
	case <-x.done:
		return fmt.Errorf("exec process %d is not running", x.pid)
	case x.sigs <- sig:
	default:
	}
	return nil
}

func (x *execProc) Wait(ctx context.Context) (int, error) {
	select {
	case <-x.done:
		return x.code, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
