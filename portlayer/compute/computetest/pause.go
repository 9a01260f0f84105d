package computetest

import (
	"context"
	"syscall"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func (s *suite) pauseUnpause(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	if err := p.Pause(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("pause of a created container: %v", err)
	}
	if err := p.Pause(ctx, newID(t)); !errdefs.IsNotFound(err) {
		t.Fatalf("pause of an unknown container: %v", err)
	}
	startOK(ctx, t, p, id)
	defer func() { _ = p.Kill(context.Background(), id) }()
	if err := p.Unpause(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("unpause of a running container: %v", err)
	}
	if err := p.Pause(ctx, id); err != nil {
		t.Fatalf("pause: %v", err)
	}
	if st := inspect(ctx, t, p, id).Status; st.State != compute.StateRunning || !st.Paused {
		t.Fatalf("paused status: %+v", st)
	}
	if err := p.Pause(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("second pause: %v", err)
	}
	if _, err := p.Exec(ctx, id, compute.ExecConfig{Args: CmdTrue}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in a paused container: %v", err)
	}
	if err := p.Unpause(ctx, id); err != nil {
		t.Fatalf("unpause: %v", err)
	}
	if st := inspect(ctx, t, p, id).Status; st.State != compute.StateRunning || st.Paused {
		t.Fatalf("status after unpause: %+v", st)
	}
	// It runs again: an exec works.
	x := execOK(ctx, t, p, id, compute.ExecConfig{Args: CmdTrue})
	if code := waitExec(ctx, t, x); code != 0 {
		t.Fatalf("exec after unpause: exit %d", code)
	}
	// A signal reaches a paused container (it is thawed to handle it).
	if err := p.Pause(ctx, id); err != nil {
		t.Fatalf("pause again: %v", err)
	}
	if err := p.Signal(ctx, id, syscall.SIGTERM); err != nil {
		t.Fatalf("signal while paused: %v", err)
	}
	st := waitFor(ctx, t, p, id, compute.WaitNotRunning)
	if st.ExitCode != 143 || st.Paused {
		t.Fatalf("after SIGTERM while paused: %+v", st)
	}
}
