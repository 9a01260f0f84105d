package fake

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

var validID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Provider is the in-memory compute.Provider. Set Programs (and Now) before
// the first call; the zero value is not usable, call New.
type Provider struct {
	// Programs maps the base name of Args[0] to the main process.
	Programs map[string]Program
	// Now is the clock for StartedAt, FinishedAt and log times.
	Now func() time.Time
	// Network, if set, is attached at every start and detached when the
	// run ends, as a real provider does.
	Network compute.NetworkAttacher
	// TempDir, if set before the first archive call, is the directory
	// the containers' file trees are made in; its owner (e.g. a test's
	// t.TempDir) removes it. Unset, the provider makes its own on first
	// use and Close removes it.
	TempDir string

	mu    sync.Mutex
	vms   map[string]*vm
	execs int    // exec processes started (for their pids)
	dir   string // where containers' file trees are made (archive.go)
	owned bool   // dir was made by the provider: Close removes it
}

var _ compute.Provider = (*Provider)(nil)

// New returns an empty provider with the builtin programs.
func New() *Provider {
	return &Provider{Programs: Builtins(), Now: time.Now, vms: map[string]*vm{}}
}

type vm struct {
	c        compute.Container
	changed  chan struct{} // closed and replaced on every change
	run      *run          // nil unless running
	finished int           // runs that ended
	removed  bool
	logs     []compute.LogEntry
	pending  []*sub // attachers waiting for the next run
	signals  []syscall.Signal
	waiters  int // Wait calls blocked on this VM (tests sync on it)
	size     [2]uint
	samples  int    // Stats calls, so counters grow
	root     string // the container's files (archive.go), made on first use
}

// notify wakes every waiter. Called with Provider.mu held.
func (v *vm) notify() {
	close(v.changed)
	v.changed = make(chan struct{})
}

func (p *Provider) get(id string) (*vm, error) {
	v, ok := p.vms[id]
	if !ok {
		return nil, errdefs.NotFound(fmt.Sprintf("container %s not found", id))
	}
	return v, nil
}

func notRunning(id string) error {
	return errdefs.Conflict(fmt.Sprintf("container %s is not running", id))
}

// Create implements compute.Creator.
func (p *Provider) Create(_ context.Context, spec compute.Spec) error {
	if !validID.MatchString(spec.ID) {
		return errdefs.InvalidParameter(fmt.Sprintf("invalid container id %q", spec.ID))
	}
	if len(spec.Process.Args) == 0 {
		return errdefs.InvalidParameter("no process args")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.vms[spec.ID]; ok {
		return fmt.Errorf("container %s: %w", spec.ID, errdefs.ErrAlreadyExists)
	}
	spec.Meta = append([]byte(nil), spec.Meta...)
	p.vms[spec.ID] = &vm{c: compute.Container{Spec: spec, Status: compute.Status{State: compute.StateCreated}}, changed: make(chan struct{})}
	return nil
}

// Update implements compute.Creator.
func (p *Provider) Update(_ context.Context, id string, meta []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return err
	}
	v.c.Spec.Meta = append([]byte(nil), meta...)
	v.notify()
	return nil
}

// SetResources implements compute.Resizer.
func (p *Provider) SetResources(_ context.Context, id string, r compute.Resources) error {
	if r.CPUs < 0 || r.MemoryMB < 0 {
		return errdefs.InvalidParameter("negative CPUs or memory")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return err
	}
	if r.CPUs > 0 {
		v.c.Spec.CPUs = r.CPUs
	}
	if r.MemoryMB > 0 {
		v.c.Spec.MemoryMB = r.MemoryMB
	}
	v.notify()
	return nil
}

func clone(c compute.Container) compute.Container {
	c.Spec.Meta = append([]byte(nil), c.Spec.Meta...)
	c.Status.Boot = append([]compute.Step(nil), c.Status.Boot...)
	return c
}

// Inspect implements compute.Inspector.
func (p *Provider) Inspect(_ context.Context, id string) (compute.Container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return compute.Container{}, err
	}
	return clone(v.c), nil
}

// List implements compute.Inspector.
func (p *Provider) List(context.Context) ([]compute.Container, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]compute.Container, 0, len(p.vms))
	for _, v := range p.vms {
		out = append(out, clone(v.c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.ID < out[j].Spec.ID })
	return out, nil
}

// Start implements compute.Runner.
func (p *Provider) Start(ctx context.Context, id string) error {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	if v.run != nil {
		p.mu.Unlock()
		return fmt.Errorf("container %s is already running: %w", id, errdefs.ErrNotModified)
	}
	proc := v.c.Spec.Process
	prog, ok := p.Programs[path.Base(proc.Args[0])]
	if !ok {
		p.mu.Unlock()
		return errdefs.InvalidParameter(fmt.Sprintf("exec: %q: executable file not found in $PATH", proc.Args[0]))
	}
	if na := p.Network; na != nil {
		p.mu.Unlock()
		if _, err := na.Attach(ctx, id); err != nil {
			_ = na.Detach(context.WithoutCancel(ctx), id)
			return fmt.Errorf("container %s: network: %w", id, err)
		}
		p.mu.Lock()
		if v.run != nil || v.removed {
			p.mu.Unlock()
			return errdefs.Conflict(fmt.Sprintf("container %s changed during start", id))
		}
	}
	r := newRun(p, v, proc)
	r.subs = v.pending
	for _, s := range v.pending {
		r.bind(s)
	}
	v.pending = nil
	now := p.Now()
	v.run = r
	v.c.Status = compute.Status{State: compute.StateRunning, Pid: 1000 + v.finished, StartedAt: now,
		Boot: []compute.Step{{Name: "launch", At: now}, {Name: "process-started", At: now}}}
	v.notify()
	p.mu.Unlock()

	go r.main(prog, proc)
	return nil
}

// Signal implements compute.Runner.
func (p *Provider) Signal(_ context.Context, id string, sig syscall.Signal) error {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	r := v.run
	if r == nil {
		p.mu.Unlock()
		return notRunning(id)
	}
	v.signals = append(v.signals, sig)
	v.c.Status.Paused = false // a signal thaws a paused VM
	p.mu.Unlock()
	if sig == syscall.SIGKILL {
		r.finish(137, true)
		return nil
	}
	select {
	case r.sigs <- sig:
	default: // a program that never reads signals loses them, like a blocked mask
	}
	return nil
}

// Kill implements compute.Runner.
func (p *Provider) Kill(_ context.Context, id string) error {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	r := v.run
	p.mu.Unlock()
	if r == nil {
		return notRunning(id)
	}
	r.finish(137, true)
	return nil
}

// Wait implements compute.Runner.
func (p *Provider) Wait(ctx context.Context, id string, cond compute.WaitCondition) (compute.Status, error) {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return compute.Status{}, err
	}
	target := v.finished + 1
	for {
		done := false
		switch cond {
		case compute.WaitNotRunning:
			done = v.run == nil
		case compute.WaitNextExit:
			done = v.finished >= target
		case compute.WaitRemoved:
			done = v.removed
		default:
			p.mu.Unlock()
			return compute.Status{}, errdefs.InvalidParameter(fmt.Sprintf("unknown wait condition %d", cond))
		}
		if done || (v.removed && cond != compute.WaitRemoved) {
			st := v.c.Status
			p.mu.Unlock()
			if !done {
				return st, errdefs.NotFound(fmt.Sprintf("container %s was removed", id))
			}
			return st, nil
		}
		ch := v.changed
		v.waiters++
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			p.mu.Lock()
			v.waiters--
			p.mu.Unlock()
			return compute.Status{}, ctx.Err()
		}
		p.mu.Lock()
		v.waiters--
	}
}

// Resize implements compute.Streamer.
func (p *Provider) Resize(_ context.Context, id string, height, width uint) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return err
	}
	if v.run == nil {
		return notRunning(id)
	}
	v.size = [2]uint{height, width}
	return nil
}

// Remove implements compute.Remover.
func (p *Provider) Remove(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return err
	}
	if v.run != nil {
		return errdefs.Conflict(fmt.Sprintf("container %s is running", id))
	}
	delete(p.vms, id)
	v.removed = true
	if v.root != "" {
		_ = os.RemoveAll(v.root)
	}
	for _, s := range v.pending {
		s.end()
	}
	v.pending = nil
	v.notify()
	return nil
}

// Signals returns the signals delivered to id so far (for tests).
func (p *Provider) Signals(id string) []syscall.Signal {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vms[id]; ok {
		return append([]syscall.Signal(nil), v.signals...)
	}
	return nil
}

// Waiters returns how many Wait calls are blocked on id (for tests that
// must act only once a waiter is in place).
func (p *Provider) Waiters(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vms[id]; ok {
		return v.waiters
	}
	return 0
}

// Pending returns how many attachers wait for id's next start (for tests).
func (p *Provider) Pending(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vms[id]; ok {
		return len(v.pending)
	}
	return 0
}

// Size returns the last TTY size set on id (for tests).
func (p *Provider) Size(id string) (height, width uint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v, ok := p.vms[id]; ok {
		return v.size[0], v.size[1]
	}
	return 0, 0
}

// emptyReader is stdin for containers without OpenStdin.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
