package computetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// NetFactory returns a provider that uses na as its network.
type NetFactory func(t *testing.T, na compute.NetworkAttacher) compute.Provider

// Recorder is a NetworkAttacher that records calls per container and gives
// no NICs; Fail makes Attach fail for one container.
type Recorder struct {
	mu     sync.Mutex
	calls  map[string][]string
	failID string
}

// ErrAttach is what Attach returns for the container named by Fail.
var ErrAttach = errdefs.Conflict("Bind for 0.0.0.0:1 failed: port is already allocated")

func (r *Recorder) Attach(_ context.Context, id string) ([]compute.NIC, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id] = append(r.calls[id], "attach")
	if id == r.failID {
		return nil, ErrAttach
	}
	return nil, nil
}

func (r *Recorder) Detach(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id] = append(r.calls[id], "detach")
	return nil
}

// Fail makes Attach fail for id ("" for none).
func (r *Recorder) Fail(id string) {
	r.mu.Lock()
	r.failID = id
	r.mu.Unlock()
}

// balanced tells whether every attach of id was followed by a detach.
func (r *Recorder) balanced(id string) (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := append([]string(nil), r.calls[id]...)
	open := 0
	for _, c := range calls {
		if c == "attach" {
			open++
		} else if open > 0 {
			open = 0
		}
	}
	return open == 0 && len(calls) > 0 && calls[0] == "attach", calls
}

// RunNetwork checks the provider's side of networking: Attach while a VM
// starts, and Detach (the "VM exited" notification) once each run ended,
// whether the process exited, the VM was killed or the start failed,
// before the exit is visible to Wait.
func RunNetwork(t *testing.T, factory NetFactory, image string, opts ...Option) {
	s := &suite{image: image}
	for _, o := range opts {
		o(s)
	}
	tests := []struct {
		name string
		fn   func(ctx context.Context, t *testing.T, p compute.Provider, r *Recorder)
	}{
		{"DetachAfterExit", s.netExit},
		{"DetachAfterKill", s.netKill},
		{"DetachAfterStartFailure", s.netStartFailure},
		{"AttachFailureFailsStart", s.netAttachFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if why, ok := s.without[tc.name]; ok {
				t.Skip("not supported by this provider yet: " + why)
			}
			if why, ok := s.optOut[tc.name]; ok {
				t.Skip("provider opted out of " + tc.name + ": " + why)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			r := &Recorder{calls: map[string][]string{}}
			tc.fn(ctx, t, factory(t, r), r)
		})
	}
}

func expectBalanced(t *testing.T, r *Recorder, id string, starts int) {
	t.Helper()
	ok, calls := r.balanced(id)
	attaches := 0
	for _, c := range calls {
		if c == "attach" {
			attaches++
		}
	}
	if !ok || attaches != starts {
		t.Fatalf("network calls %v: want %d attach(es), each followed by a detach", calls, starts)
	}
}

func (s *suite) netExit(ctx context.Context, t *testing.T, p compute.Provider, r *Recorder) {
	id := s.create(ctx, t, p, CmdTrue)
	run(ctx, t, p, id)
	expectBalanced(t, r, id, 1)
	run(ctx, t, p, id)
	expectBalanced(t, r, id, 2)
}

func (s *suite) netKill(ctx context.Context, t *testing.T, p compute.Provider, r *Recorder) {
	id := s.create(ctx, t, p, CmdSleep)
	startOK(ctx, t, p, id)
	if ok, calls := r.balanced(id); ok || len(calls) != 1 {
		t.Fatalf("while running: %v", calls)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, p, id, compute.WaitNotRunning)
	expectBalanced(t, r, id, 1)
}

func (s *suite) netStartFailure(ctx context.Context, t *testing.T, p compute.Provider, r *Recorder) {
	id := s.create(ctx, t, p, CmdMissing)
	if err := p.Start(ctx, id); err == nil {
		t.Fatal("start of a missing command succeeded")
	}
	waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if _, calls := r.balanced(id); len(calls) == 0 {
		return // refused before the network was asked: fine
	}
	expectBalanced(t, r, id, 1)
}

func (s *suite) netAttachFailure(ctx context.Context, t *testing.T, p compute.Provider, r *Recorder) {
	id := s.create(ctx, t, p, CmdTrue)
	r.Fail(id)
	err := p.Start(ctx, id)
	if !errors.Is(err, ErrAttach) && !errdefs.IsConflict(err) {
		t.Fatalf("start with a failing network: %v", err)
	}
	if c := inspect(ctx, t, p, id); c.Status.State == compute.StateRunning {
		t.Fatalf("running after a failed attach: %+v", c.Status)
	}
	r.Fail("")
	run(ctx, t, p, id)
	if ok, calls := r.balanced(id); !ok {
		t.Fatalf("network calls %v", calls)
	}
}
