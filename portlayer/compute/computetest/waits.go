package computetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

type waitResult struct {
	st  compute.Status
	err error
}

func goWait(ctx context.Context, p compute.Provider, id string, cond compute.WaitCondition) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		st, err := p.Wait(ctx, id, cond)
		ch <- waitResult{st, err}
	}()
	return ch
}

func (s *suite) waitConditions(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)

	// Not running: a created container returns at once.
	if st := waitFor(ctx, t, p, id, compute.WaitNotRunning); st.State != compute.StateCreated {
		t.Fatalf("wait not-running on a created container: %+v", st)
	}

	// Next exit, registered before Start, by many waiters at once.
	const n = 3
	var next []<-chan waitResult
	for i := 0; i < n; i++ {
		next = append(next, goWait(ctx, p, id, compute.WaitNextExit))
	}
	removed := goWait(ctx, p, id, compute.WaitRemoved)
	awaitWaiters(ctx, t, p, id, n+1)
	startOK(ctx, t, p, id)
	notRunning := goWait(ctx, p, id, compute.WaitNotRunning)
	awaitWaiters(ctx, t, p, id, n+2)
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	for i, ch := range append(next, notRunning) {
		r := <-ch
		if r.err != nil || r.st.State != compute.StateExited || r.st.ExitCode != 137 {
			t.Fatalf("waiter %d: %+v %v, want exited 137", i, r.st, r.err)
		}
	}

	// Next exit on an exited container waits for the next run, not the last.
	again := goWait(ctx, p, id, compute.WaitNextExit)
	awaitWaiters(ctx, t, p, id, 2) // the removed waiter and this one
	startOK(ctx, t, p, id)
	select {
	case r := <-again:
		t.Fatalf("next-exit returned during the next run: %+v %v", r.st, r.err)
	default:
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := <-again; r.err != nil || r.st.ExitCode != 137 {
		t.Fatalf("next-exit after the second run: %+v %v", r.st, r.err)
	}

	// Removed: still waiting through both runs, returns on Remove.
	select {
	case r := <-removed:
		t.Fatalf("wait removed returned before Remove: %+v %v", r.st, r.err)
	default:
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if r := <-removed; r.err != nil {
		t.Fatalf("wait removed: %v", r.err)
	}
	if _, err := p.Wait(ctx, id, compute.WaitRemoved); !errdefs.IsNotFound(err) {
		t.Fatalf("wait on a removed id: %v, want NotFound", err)
	}
}
