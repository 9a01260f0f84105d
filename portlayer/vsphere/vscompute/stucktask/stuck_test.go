package stucktask_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// TestPowerOnNeverFinishes: a power-on task that never completes fails
// Start with ErrUnavailable once the session's task timeout passes, the
// run is recorded as failed, and the container can be removed.
func TestPowerOnNeverFinishes(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t) // the model powers its own VMs on: start it first
	// Every later power-on task of this binary stays "running" for a day;
	// the VM's lock is not held meanwhile (LockHandoff 0), so reads go on.
	simulator.TaskDelay.MethodDelay = map[string]int{"PowerOn": int((24 * time.Hour).Milliseconds()), "LockHandoff": 0}
	sess := sim.Session(t, func(c *vsession.Config) { c.TaskTimeout = 2 * time.Second })
	p, err := vscompute.New(vscompute.Config{Session: sess, VCH: "stuck", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("5", 64)
	if err := p.Create(ctx, compute.Spec{ID: id, Name: "stuck", Process: compute.Process{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	err = p.Start(ctx, id)
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "did not finish within 2s") {
		t.Fatalf("start with a power-on task that never finishes: %v, want Unavailable naming the timeout", err)
	}
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateExited || !strings.Contains(c.Status.Error, "did not finish") {
		t.Fatalf("status after the stuck start: %+v", c.Status)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatalf("remove after the stuck start: %v", err)
	}
}
