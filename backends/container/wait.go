package container

import (
	"context"

	"github.com/docker/docker/api/types/container"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// waitCondition maps docker's condition ("" is not-running).
func waitCondition(c container.WaitCondition) (compute.WaitCondition, error) {
	switch c {
	case "", container.WaitConditionNotRunning:
		return compute.WaitNotRunning, nil
	case container.WaitConditionNextExit:
		return compute.WaitNextExit, nil
	case container.WaitConditionRemoved:
		return compute.WaitRemoved, nil
	}
	return 0, errdefs.InvalidParameter("invalid condition: " + string(c))
}

// ContainerWait resolves the container now and reports its exit later.
func (b *Backend) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan containerrouter.WaitResult, error) {
	wc, err := waitCondition(cond)
	if err != nil {
		return nil, err
	}
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	id := c.Spec.ID
	ch := make(chan containerrouter.WaitResult, 1)
	go func() {
		defer close(ch)
		st, err := b.pl.Wait(ctx, id, wc)
		if err != nil {
			ch <- containerrouter.WaitResult{StatusCode: -1, Err: err}
			return
		}
		code := int64(st.ExitCode)
		// A container whose start failed waits as docker's: its recorded code.
		if wc == compute.WaitNotRunning && st.State != compute.StateRunning {
			if _, now, err := b.read(ctx, id); err == nil {
				m = now
			}
			code = int64(deriveState(st, m, false).ExitCode)
		}
		ch <- containerrouter.WaitResult{StatusCode: code}
	}()
	return ch, nil
}
