package computetest

import (
	"context"
	"errors"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

// WithVolume tells the suite that the provider can attach a volume named
// name (for the qemu provider: its volume.Attacher holds it), which turns
// on the VolumeExclusive test.
func WithVolume(name string) Option { return func(s *suite) { s.volume = name } }

// volumeExclusive: a volume held by a running VM cannot be mounted by a
// second running VM (ErrVolumeInUse); once the first is off it can.
func (s *suite) volumeExclusive(ctx context.Context, t *testing.T, p compute.Provider) {
	if s.volume == "" {
		t.Skip("the provider under test was given no volume (computetest.WithVolume)")
	}
	mount := func(path string) func(*compute.Spec) {
		return func(sp *compute.Spec) {
			sp.Mounts = []compute.Mount{{Volume: s.volume, Path: path}}
		}
	}
	first := s.create(ctx, t, p, CmdSleep, mount("/v"))
	second := s.create(ctx, t, p, CmdTrue, mount("/w"))
	startOK(ctx, t, p, first)
	if err := p.Start(ctx, second); !errors.Is(err, compute.ErrVolumeInUse) {
		t.Fatalf("second start on a held volume: %v, want ErrVolumeInUse", err)
	}
	if c := inspect(ctx, t, p, second); c.Status.State == compute.StateRunning {
		t.Fatalf("refused container runs: %+v", c.Status)
	}
	if err := p.Kill(ctx, first); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, p, first, compute.WaitNotRunning)
	if st := run(ctx, t, p, second); st.ExitCode != 0 {
		t.Fatalf("second after the first stopped: %+v", st)
	}
}
