package computetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// stats: a created VM has none (ErrConflict); a running one reports
// counters that are consistent and do not go backwards.
func (s *suite) stats(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	if _, err := p.Stats(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("stats of a created container: %v", err)
	}
	startOK(ctx, t, p, id)
	defer func() { _ = p.Kill(context.Background(), id) }()
	a, err := p.Stats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Stats(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []compute.Stats{a, b} {
		if st.CPUs < 1 || len(st.PerCPU) != st.CPUs || st.CPUAll == 0 || st.CPUTotal > st.CPUAll ||
			st.MemTotal == 0 || st.MemAvailable > st.MemTotal || st.Pids < 1 || st.Read.IsZero() {
			t.Fatalf("inconsistent sample: %+v", st)
		}
	}
	if b.CPUAll < a.CPUAll || b.CPUTotal < a.CPUTotal || b.Read.Before(a.Read) {
		t.Fatalf("counters went backwards: %+v then %+v", a, b)
	}
}
