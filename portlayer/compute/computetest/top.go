package computetest

import (
	"context"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

func (s *suite) top(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdSleep)
	if _, err := p.Top(ctx, id, nil); !errdefs.IsConflict(err) {
		t.Fatalf("top of a created container: %v", err)
	}
	startOK(ctx, t, p, id)
	defer func() { _ = p.Kill(context.Background(), id) }()
	for _, args := range [][]string{nil, {"-ef"}} {
		res, err := p.Top(ctx, id, args)
		if err != nil {
			t.Fatalf("top %q: %v", args, err)
		}
		if len(res.Titles) == 0 || res.Titles[1] != "PID" || res.Titles[len(res.Titles)-1] != "CMD" {
			t.Fatalf("top %q titles %q", args, res.Titles)
		}
		found := false
		for _, row := range res.Processes {
			if len(row) != len(res.Titles) {
				t.Fatalf("row %q does not fit titles %q", row, res.Titles)
			}
			found = found || row[len(row)-1] == strings.Join(CmdSleep, " ")
		}
		if !found {
			t.Fatalf("top %q lacks the main process: %q", args, res.Processes)
		}
	}
	if _, err := p.Top(ctx, id, []string{"--no-such-option"}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("top with a bad option: %v", err)
	}
}
