package vscompute_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/vsphere/vscompute"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
	"github.com/vchproject/vch/portlayer/vsphere/vsvolume"
)

// needsTether lists the suite's cases that need a process in the VM:
// its output, exit code, signals or a session with the tether.
var needsTether = []string{
	"ExitCode", "StartRunning", "StartFailure", "LogsSeparateStreams", "LogsTail", "LogsFollow",
	"AttachBeforeStart", "AttachRunning", "SignalTerm", "Resize", "WaitConditions",
	"ExecStreams", "ExecStdin", "ExecIdentity", "ExecTTY", "ExecSignal", "ExecBig", "ExecErrors",
	"PauseUnpause", "Top", "Stats", "Archive", "WritableLayerKept", "Restart",
}

var vchSeq atomic.Int64

// open returns a factory whose providers share one VCH name per subtest
// (a second call for the same t is a vchd restart: a new session).
func open(t *testing.T) computetest.Factory {
	sim := vsimtest.Shared(t)
	names := map[*testing.T]string{}
	return func(t *testing.T) compute.Provider {
		name, ok := names[t]
		if !ok {
			name = "vch" + time.Now().UTC().Format("150405") + "-" + strconv.FormatInt(vchSeq.Add(1), 10)
			names[t] = name
		}
		p, err := vscompute.New(vscompute.Config{Session: sim.Session(t), VCH: name, Datastore: "LocalDS_0", Logger: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// TestConformance runs the compute suite on the simulator without
// backing VMs (no tether runs): the cases in needsTether are skipped with
// their reason here and run in package backed, where docker-backed VMs
// run the tether over the serial concentrator.
func TestConformance(t *testing.T) {
	computetest.Run(t, open(t), "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		computetest.WithTimeout(3*time.Minute),
		computetest.WithoutProcess("needs a tether in the VM: this run has no docker-backed VMs; see package backed (TestConformance there)", needsTether...))
}

func spec(id, name string) compute.Spec {
	return compute.Spec{ID: id, Name: name, Image: "sha256:00", Process: compute.Process{Args: []string{"sleep", "600"}}, Meta: []byte(`{"name":"x"}`)}
}

func hexID(c byte) string { return strings.Repeat(string(c), 64) }

// TestRecoveryFromVSphere: a new provider (a restarted vchd, a new
// session) reads every container's definition and state back from the
// VMs' own properties; a VM powered off behind vchd's back is exited.
func TestRecoveryFromVSphere(t *testing.T) {
	ctx := context.Background()
	f := open(t)
	p := f(t)
	for _, c := range []struct{ id, name string }{{hexID('a'), "rec-created"}, {hexID('b'), "rec-running"}, {hexID('c'), "rec-killed"}, {hexID('d'), "rec-lost"}} {
		if err := p.Create(ctx, spec(c.id, c.name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{hexID('b'), hexID('c'), hexID('d')} {
		if err := p.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Kill(ctx, hexID('c')); err != nil {
		t.Fatal(err)
	}
	before, err := p.Inspect(ctx, hexID('b'))
	if err != nil {
		t.Fatal(err)
	}
	// Someone powers "rec-lost" off without vchd.
	sess := vsimtest.Shared(t).Session(t)
	vm, err := sess.Finder.VirtualMachine(ctx, "rec-lost")
	if err != nil {
		t.Fatal(err)
	}
	task, err := vm.PowerOff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	q := f(t) // the restart
	want := map[string]compute.State{hexID('a'): compute.StateCreated, hexID('b'): compute.StateRunning, hexID('c'): compute.StateExited, hexID('d'): compute.StateExited}
	list, err := q.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(want) {
		t.Fatalf("after restart %d containers, want %d", len(list), len(want))
	}
	for _, c := range list {
		if c.Status.State != want[c.Spec.ID] {
			t.Errorf("%s: %s, want %s", c.Spec.Name, c.Status.State, want[c.Spec.ID])
		}
	}
	b, _ := q.Inspect(ctx, hexID('b'))
	if !b.Status.StartedAt.Equal(before.Status.StartedAt) || string(b.Spec.Meta) != `{"name":"x"}` {
		t.Fatalf("running container after restart %+v, before %+v", b, before)
	}
	if c, _ := q.Inspect(ctx, hexID('c')); c.Status.ExitCode != 137 {
		t.Fatalf("killed container after restart: %+v", c.Status)
	}
	if d, _ := q.Inspect(ctx, hexID('d')); d.Status.ExitCode != 255 || d.Status.Error == "" {
		t.Fatalf("container powered off behind vchd: %+v", d.Status)
	}
	// Controllable after the restart.
	if err := q.Kill(ctx, hexID('b')); err != nil {
		t.Fatal(err)
	}
	if st, err := q.Wait(ctx, hexID('b'), compute.WaitNotRunning); err != nil || st.ExitCode != 137 {
		t.Fatalf("wait after kill: %+v %v", st, err)
	}
	for _, id := range []string{hexID('a'), hexID('b'), hexID('c'), hexID('d')} {
		if err := q.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVMShape: the VM is in the VCH's pool, named by the name convention,
// with the definition in guestinfo extraConfig and a PVSCSI controller.
func TestVMShape(t *testing.T) {
	ctx := context.Background()
	p := open(t)(t)
	id := hexID('e')
	if err := p.Create(ctx, spec(id, "web-"+id[:12])); err != nil {
		t.Fatal(err)
	}
	sess := vsimtest.Shared(t).Session(t)
	vm, err := sess.Finder.VirtualMachine(ctx, "web-"+id[:12])
	if err != nil {
		t.Fatal(err)
	}
	pool, err := vm.ResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pool.Reference() != sess.Pool.Reference() {
		t.Fatalf("VM in pool %s, want the VCH's %s", pool.Reference(), sess.Pool.Reference())
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs.SelectByType((*typesPVSCSI)(nil))) != 1 {
		t.Fatalf("devices %v: want one PVSCSI controller", devs)
	}
	var keys []string
	var mvm mvmT
	if err := vm.Properties(ctx, vm.Reference(), []string{"config.extraConfig"}, &mvm); err != nil {
		t.Fatal(err)
	}
	for _, o := range mvm.Config.ExtraConfig {
		k := o.GetOptionValue().Key
		if strings.HasPrefix(k, "guestinfo.vch.") {
			keys = append(keys, k)
			v, _ := o.GetOptionValue().Value.(string)
			if strings.ContainsAny(v, " '\"$`\\;&|<>(){}*?!#~") {
				t.Errorf("%s = %q holds a character the shell would mangle", k, v)
			}
		}
	}
	if strings.Join(keys, ",") == "" || !contains(keys, vscompute.KeySpec) || !contains(keys, vscompute.KeyID) {
		t.Fatalf("guestinfo keys %v", keys)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestPowerOnFault: vSphere refusing the power on (a fault the simulator
// injects) fails Start with the fault's class, records the failed run,
// and the container can be started again and removed.
func TestPowerOnFault(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	p := open(t)(t)
	id := hexID('f')
	if err := p.Create(ctx, spec(id, "fault-poweron")); err != nil {
		t.Fatal(err)
	}
	rule := &simulator.FaultInjectionRule{
		MethodName: "PowerOnVM_Task", ObjectType: "VirtualMachine", ObjectName: "fault-poweron",
		Probability: 1, FaultType: simulator.FaultTypeInsufficientResourcesFault,
		Message: "not enough memory in the pool", MaxCount: 1, Enabled: true,
	}
	sim.Model.Service.AddFaultRule(rule)
	err := p.Start(ctx, id)
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "not enough memory") {
		t.Fatalf("start with an injected fault: %v, want Unavailable naming the fault", err)
	}
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateExited || c.Status.Error == "" {
		t.Fatalf("status after a failed power on: %+v", c.Status)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatalf("start after the fault cleared: %v", err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// TestConflicts: a VM name the folder has already, a second start, the
// removal of a running VM, pause and unpause get their classes.
func TestConflicts(t *testing.T) {
	ctx := context.Background()
	p := open(t)(t)
	id := hexID('9')
	if err := p.Create(ctx, spec(id, "conflicts")); err != nil {
		t.Fatal(err)
	}
	if err := p.Create(ctx, spec(hexID('8'), "conflicts")); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("create with a taken VM name: %v, want AlreadyExists", err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); !errdefs.IsNotModified(err) {
		t.Fatalf("second start: %v, want NotModified", err)
	}
	if err := p.Remove(ctx, id); !errdefs.IsConflict(err) {
		t.Fatalf("remove running: %v, want Conflict", err)
	}
	if err := p.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, _ := p.Inspect(ctx, id); !c.Status.Paused || c.Status.State != compute.StateRunning {
		t.Fatalf("paused status %+v", c.Status)
	}
	if err := p.Unpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	// WaitRemoved returns once the VM is destroyed.
	removed := make(chan error, 1)
	go func() {
		_, err := p.Wait(ctx, id, compute.WaitRemoved)
		removed <- err
	}()
	for p.(interface{ Waiters(string) int }).Waiters(id) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := <-removed; err != nil {
		t.Fatalf("wait removed: %v", err)
	}
}

// TestWaitRemovedReportsTheLastExit: a WaitRemoved registered before the
// start reports the exit of the run that a Remove right after it ended,
// however soon after the exit the VM is destroyed (docker run --rm's
// exit code), not the status of the running container.
func TestWaitRemovedReportsTheLastExit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := open(t)(t).(*vscompute.Provider)
	for i, c := range []byte{'1', '2', '3'} {
		id := hexID(c)
		if err := p.Create(ctx, spec(id, "rm-exit-"+string(c))); err != nil {
			t.Fatal(err)
		}
		removed := vsimtest.WaitRemoved(ctx, t, p, id)
		if err := p.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := p.Kill(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := p.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
		if r := <-removed; r.Err != nil || r.Status.State != compute.StateExited || r.Status.ExitCode != 137 {
			t.Fatalf("run %d: wait removed: %+v %v, want exited 137", i, r.Status, r.Err)
		}
	}
}

// TestVolumeHeldByOneRunningVM: a volume's VMDK is attached to every VM
// that mounts it, but only one of them may be on (ESXi locks the disk
// for the first): the second start is ErrVolumeInUse, naming the holder,
// and works once the holder is off; a container without the volume
// starts meanwhile.
func TestVolumeHeldByOneRunningVM(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	vols, err := vsvolume.New(ctx, sim.Session(t), []volume.Store{{Label: volume.DefaultStore, Path: "[LocalDS_0] vch/held-" + strconv.FormatInt(vchSeq.Add(1), 10)}}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vols.Create(ctx, volume.CreateOptions{Name: "data", Capacity: 16 << 20}); err != nil {
		t.Fatal(err)
	}
	p, err := vscompute.New(vscompute.Config{Session: sim.Session(t), VCH: "held" + strconv.FormatInt(vchSeq.Add(1), 10), Datastore: "LocalDS_0", Volumes: vols, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(c byte, name string, mounts ...compute.Mount) string {
		id := hexID(c)
		sp := spec(id, name)
		sp.Mounts = mounts
		if err := p.Create(ctx, sp); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill(context.Background(), id); _ = p.Remove(context.Background(), id) })
		return id
	}
	first := mk('a', "held-first", compute.Mount{Volume: "data", Path: "/data"})
	second := mk('b', "held-second", compute.Mount{Volume: "data", Path: "/srv", ReadOnly: true})
	other := mk('c', "held-other")
	if err := p.Start(ctx, first); err != nil {
		t.Fatal(err)
	}
	err = p.Start(ctx, second)
	if !errors.Is(err, compute.ErrVolumeInUse) || !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume data is in use by running container "+first[:12]) {
		t.Fatalf("second start: %v", err)
	}
	if st, err := p.Inspect(ctx, second); err != nil || st.Status.State == compute.StateRunning {
		t.Fatalf("second after the refused start: %+v %v", st.Status, err)
	}
	if err := p.Start(ctx, other); err != nil {
		t.Fatalf("a container without the volume: %v", err)
	}
	if err := p.Kill(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, second); err != nil {
		t.Fatalf("second start once the first is off: %v", err)
	}
}

// failingPowerOn is a container VM whose PowerOnVM_Task is accepted and
// then ends in an InsufficientResourcesFault (the VM stays off), as when
// vCenter admits the call but the host cannot give the VM its memory.
type failingPowerOn struct {
	*simulator.VirtualMachine
}

func (vm *failingPowerOn) PowerOnVMTask(ctx *simulator.Context, req *types.PowerOnVM_Task) soap.HasFault {
	task := simulator.CreateTask(req.This, "powerOn", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, &types.InsufficientResourcesFault{}
	})
	return &methods.PowerOnVM_TaskBody{Res: &types.PowerOnVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// TestPowerOnTaskFails: a power-on task that fails (not the call: the
// task, see TestPowerOnFault for a fault at call time) fails Start with
// the same class, Unavailable; the run is recorded as exited with the
// fault, the VM is off, and the container starts once the host has room.
func TestPowerOnTaskFails(t *testing.T) {
	ctx := context.Background()
	sim := vsimtest.Shared(t)
	p := open(t)(t)
	id := hexID('e')
	if err := p.Create(ctx, spec(id, "fault-poweron-task")); err != nil {
		t.Fatal(err)
	}
	vmo, err := sim.Session(t).Finder.VirtualMachine(ctx, "fault-poweron-task")
	if err != nil {
		t.Fatal(err)
	}
	orig := sim.Model.Map().Get(vmo.Reference()).(*simulator.VirtualMachine)
	sim.Model.Map().Put(&failingPowerOn{VirtualMachine: orig})
	err = p.Start(ctx, id)
	sim.Model.Map().Put(orig)
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "power on") {
		t.Fatalf("start whose power-on task fails: %v, want Unavailable naming the power on", err)
	}
	c, err := p.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status.State != compute.StateExited || c.Status.Error == "" {
		t.Fatalf("status after a failed power-on task: %+v, want exited with the error", c.Status)
	}
	if state, err := vmo.PowerState(ctx); err != nil || state != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("VM after a failed power-on task: %s %v, want poweredOff", state, err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatalf("start once the host has room: %v", err)
	}
	if err := p.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
}
