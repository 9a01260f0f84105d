package vsimtest

import (
	"context"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

// Removal is what a Wait(WaitRemoved) returned.
type Removal struct {
	Status compute.Status
	Err    error
}

// removalWaiter is what WaitRemoved needs of a provider (vscompute's).
type removalWaiter interface {
	Wait(ctx context.Context, id string, cond compute.WaitCondition) (compute.Status, error)
	Waiters(id string) int
}

// WaitRemoved registers a Wait(WaitRemoved) on id, as docker run --rm
// does before it starts the container, and returns once the provider
// counts it; the channel gets that wait's result.
func WaitRemoved(ctx context.Context, t *testing.T, p removalWaiter, id string) <-chan Removal {
	t.Helper()
	out := make(chan Removal, 1)
	go func() {
		st, err := p.Wait(ctx, id, compute.WaitRemoved)
		out <- Removal{st, err}
	}()
	for p.Waiters(id) < 1 {
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return out
}
