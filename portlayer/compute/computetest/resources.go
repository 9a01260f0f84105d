package computetest

import (
	"context"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// resources: SetResources changes the definition (zero fields stay), is
// kept, and refuses negative sizes.
func (s *suite) resources(ctx context.Context, t *testing.T, p compute.Provider) {
	id := s.create(ctx, t, p, CmdTrue)
	if err := p.SetResources(ctx, id, compute.Resources{CPUs: 2, MemoryMB: 300}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetResources(ctx, id, compute.Resources{MemoryMB: 320}); err != nil {
		t.Fatal(err)
	}
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.CPUs != 2 || c.Spec.MemoryMB != 320 {
		t.Fatalf("resources after update: %d CPUs, %d MB", c.Spec.CPUs, c.Spec.MemoryMB)
	}
	if err := p.SetResources(ctx, id, compute.Resources{CPUs: -1}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("negative CPUs: %v", err)
	}
	if err := p.SetResources(ctx, "0000000000000000000000000000000000000000000000000000000000000000", compute.Resources{CPUs: 1}); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown id: %v", err)
	}
}
