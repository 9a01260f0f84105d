package computetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

// WithVolume tells the suite that the provider can attach a shared volume
// named name (for the qemu provider: its volume.Attacher holds it), which
// turns on the VolumeShared test.
func WithVolume(name string) Option { return func(s *suite) { s.volume = name } }

// volumeShared: two running VMs mount one volume at once and each sees
// the other's writes (CmdShareFirst waits for CmdShareSecond's file and
// the other way round, so both run at the same time).
func (s *suite) volumeShared(ctx context.Context, t *testing.T, p compute.Provider) {
	if s.volume == "" {
		t.Skip("the provider under test was given no volume (computetest.WithVolume)")
	}
	mount := func(sp *compute.Spec) {
		sp.Mounts = []compute.Mount{{Volume: s.volume, Path: "/v"}}
	}
	first := s.create(ctx, t, p, CmdShareFirst, mount)
	second := s.create(ctx, t, p, CmdShareSecond, mount)
	startOK(ctx, t, p, first)
	startOK(ctx, t, p, second)
	for _, c := range []struct {
		id, want string
	}{{first, "two\n"}, {second, "one\n"}} {
		st := waitFor(ctx, t, p, c.id, compute.WaitNotRunning)
		out, errOut, _ := logs(ctx, t, p, c.id, compute.LogOptions{Tail: -1})
		if st.ExitCode != 0 || out != c.want {
			t.Fatalf("container %s: exit %d, stdout %q (stderr %q), want %q", c.id, st.ExitCode, out, errOut, c.want)
		}
	}
}
