package vscompute_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// loopbackAddr is a loopback address no one listens on now.
func loopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMaintenanceBootLeftByADeadVCHD: vchd dies during a maintenance
// boot (docker cp of a stopped container powered its VM on): the VM is
// left on, marked. Before any recovery the container still reads as it
// was; Open (the next vchd) powers the VM off and removes the mark, and
// the container is exited with its exit code kept, or created if it never
// ran. A New provider that did no recovery sweeps the left boot at Start.
func TestMaintenanceBootLeftByADeadVCHD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sim := vsimtest.Shared(t)
	cfg := vscompute.Config{VCH: "maintdead", Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t), LogDir: t.TempDir()}
	// serial: with the serial concentrator (which maintenance boots
	// need); without it Start does not wait for a tether (none runs).
	provider := func(open, serial bool) *vscompute.Provider {
		t.Helper()
		c := cfg
		c.Session = sim.Session(t)
		if serial {
			c.Serial = loopbackAddr(t)
		}
		var p *vscompute.Provider
		var err error
		if open {
			p, err = vscompute.Open(ctx, c)
		} else {
			p, err = vscompute.New(c)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
	exited, created := hexID('e'), hexID('f')
	p := provider(false, true)
	for _, c := range []struct{ id, name string }{{exited, "maintdead-exited"}, {created, "maintdead-created"}} {
		if err := p.Create(ctx, spec(c.id, c.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := vscompute.RecordExit(ctx, p, exited, 3); err != nil {
		t.Fatal(err)
	}
	before, err := p.Inspect(ctx, exited)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{exited, created} {
		if err := vscompute.BootMaintenance(ctx, p, id); err != nil {
			t.Fatal(err)
		}
	}
	// vchd dies: p is dropped without ending the boots.

	sess := sim.Session(t)
	vmState := func(name string) (types.VirtualMachinePowerState, bool) {
		t.Helper()
		vm, err := sess.Finder.VirtualMachine(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState", "config.extraConfig"}, &m); err != nil {
			t.Fatal(err)
		}
		marked := false
		for _, o := range m.Config.ExtraConfig {
			if ov := o.GetOptionValue(); ov.Key == vscompute.KeyMaint && ov.Value != "" {
				marked = true
			}
		}
		return m.Runtime.PowerState, marked
	}
	for _, name := range []string{"maintdead-exited", "maintdead-created"} {
		if pw, marked := vmState(name); pw != types.VirtualMachinePowerStatePoweredOn || !marked {
			t.Fatalf("%s during the maintenance boot: %s, marked %v; want on and marked", name, pw, marked)
		}
	}
	// Before recovery (a provider that did none) the state is as it was.
	q := provider(false, true)
	if c, err := q.Inspect(ctx, exited); err != nil || c.Status.State != compute.StateExited || c.Status.ExitCode != 3 {
		t.Fatalf("before recovery: %+v %v, want exited 3", c.Status, err)
	}

	r := provider(true, true) // the next vchd
	if pw, marked := vmState("maintdead-exited"); pw != types.VirtualMachinePowerStatePoweredOff || marked {
		t.Fatalf("after Open: %s, marked %v; want off and unmarked", pw, marked)
	}
	c, err := r.Inspect(ctx, exited)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateExited || c.Status.ExitCode != 3 || c.Status.Error != "" ||
		!c.Status.StartedAt.Equal(before.Status.StartedAt) || !c.Status.FinishedAt.Equal(before.Status.FinishedAt) {
		t.Fatalf("after Open: %+v, want %+v", c.Status, before.Status)
	}
	if c, err := r.Inspect(ctx, created); err != nil || c.Status.State != compute.StateCreated {
		t.Fatalf("the created container after Open: %+v %v", c.Status, err)
	}
	if pw, _ := vmState("maintdead-created"); pw != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("the created container's VM after Open: %s", pw)
	}

	// A left boot met by Start (no Open ran): powered off, then started.
	if err := vscompute.BootMaintenance(ctx, r, created); err != nil {
		t.Fatal(err)
	}
	s := provider(false, false)
	if err := s.Start(ctx, created); err != nil {
		t.Fatal(err)
	}
	if pw, marked := vmState("maintdead-created"); pw != types.VirtualMachinePowerStatePoweredOn || marked {
		t.Fatalf("after the Start: %s, marked %v; want on and unmarked", pw, marked)
	}
	if c, err := s.Inspect(ctx, created); err != nil || c.Status.State != compute.StateRunning {
		t.Fatalf("after the Start: %+v %v, want running", c.Status, err)
	}
	if err := s.Kill(ctx, created); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{exited, created} {
		if err := s.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
