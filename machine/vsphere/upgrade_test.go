package vsphere

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// A VCH an older vic-machine made with --ops-grant-perms (OpsRole without
// the privileges added since, no grant on the bridge's distributed
// switch) gets both at upgrade, the grant recorded so delete takes it
// back; a failed upgrade takes back what it added.
func TestUpgradeGrantsOps(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	const user = "ops@vsphere.local"
	o := baseOptions("upops")
	o.OpsUser, o.OpsPassword, o.OpsGrantPerms = user, "pw", true
	if _, err := s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	am := object.NewAuthorizationManager(s.Client)
	role := func() types.AuthorizationRole {
		t.Helper()
		roles, err := am.RoleList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := roles.ByName(OpsRole)
		if r == nil {
			t.Fatalf("no role %s", OpsRole)
		}
		return *r
	}
	dvs := bridgeSwitch(t, s, o.Bridge)
	dvsKey := dvs.Type + ":" + dvs.Value
	switchPerm := func() *types.Permission { t.Helper(); return userPermission(t, am, dvs, user) }
	find := func() *VCH {
		t.Helper()
		got, err := s.Find(ctx, "upops", "")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	// Make it what an older vic-machine left.
	added := []string{"VirtualMachine.Interact.Suspend", "VirtualMachine.Config.CPUCount", "VirtualMachine.Config.Memory",
		"DVPortgroup.Create", "DVPortgroup.Delete", "Global.CancelTask"}
	var old []string
	for _, p := range role().Privilege {
		if !slices.Contains(added, p) {
			old = append(old, p)
		}
	}
	old = append(old, "VirtualMachine.Interact.ConsoleInteract") // an admin's own addition
	r := role()
	if err := am.UpdateRole(ctx, r.RoleId, r.Name, old); err != nil {
		t.Fatal(err)
	}
	if err := am.RemoveEntityPermission(ctx, dvs, user, false); err != nil {
		t.Fatal(err)
	}
	found := find()
	cfg := *found.Config
	cfg.Ops.Granted = slices.DeleteFunc(slices.Clone(cfg.Ops.Granted), func(g string) bool { return g == dvsKey })
	if err := s.writeConfig(ctx, found, &cfg); err != nil {
		t.Fatal(err)
	}
	if missing := missingPrivileges(role().Privilege); len(missing) != len(added) || switchPerm() != nil || slices.Contains(find().Config.Ops.Granted, dvsKey) {
		t.Fatalf("the old VCH's role lacks %q, switch permission %+v", missing, switchPerm())
	}

	// A failed upgrade (its power-on) takes back the privileges and the
	// grant it added.
	var mu sync.Mutex
	calls := 0
	sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "PowerOnVM_Task", ObjectType: "*", ObjectName: "*",
		Probability: 1, FaultType: simulator.FaultTypeInsufficientResourcesFault, Message: "injected power on", Enabled: true,
		ExclusionPropertyFilter: func(mo.Reference) bool {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return calls > 1
		}})
	err := s.Upgrade(ctx, find(), "v0.0.2", false, UpgradeISOs{})
	sm.service.ClearFaultRules()
	if !fault.Is(err, &types.InsufficientResourcesFault{}) {
		t.Fatalf("failed upgrade: %v", err)
	}
	if got := role().Privilege; len(missingPrivileges(got)) != len(added) || !slices.Contains(got, "VirtualMachine.Interact.ConsoleInteract") {
		t.Errorf("role %s after a failed upgrade: %q, want %q back", OpsRole, got, old)
	}
	if p := switchPerm(); p != nil {
		t.Errorf("a failed upgrade left the switch permission %+v", p)
	}
	if g := find().Config.Ops.Granted; slices.Contains(g, dvsKey) {
		t.Errorf("a failed upgrade left the switch among the recorded grants %q", g)
	}

	if err := s.Upgrade(ctx, find(), "v0.0.2", false, UpgradeISOs{}); err != nil {
		t.Fatal(err)
	}
	r = role()
	if missing := missingPrivileges(r.Privilege); len(missing) > 0 {
		t.Errorf("role %s still lacks %q after upgrade", OpsRole, missing)
	}
	if !slices.Contains(r.Privilege, "VirtualMachine.Interact.ConsoleInteract") {
		t.Errorf("the role lost a privilege it had: %q", r.Privilege)
	}
	if p := switchPerm(); p == nil || p.RoleId != r.RoleId || !p.Propagate {
		t.Errorf("the ops user's permission on the bridge's switch after upgrade: %+v, want role %s, propagating", p, OpsRole)
	}
	got := find()
	if !slices.Contains(got.Config.Ops.Granted, dvsKey) {
		t.Errorf("the switch is not among the recorded grants after upgrade: %q", got.Config.Ops.Granted)
	}
	if _, err := s.Delete(ctx, got, false); err != nil {
		t.Fatal(err)
	}
	if p := switchPerm(); p != nil {
		t.Errorf("delete left the switch permission the upgrade gave: %+v", p)
	}
}

// orphanDataDisk: after a rollback's revert, the data disk's old file is
// deleted only when the VM has no data disk any more.
func TestOrphanDataDisk(t *testing.T) {
	const file = "[LocalDS_0] up/up.vmdk"
	var devices object.VirtualDeviceList
	ctrl, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		t.Fatal(err)
	}
	devices = append(devices, ctrl)
	withDisk := func(f string) object.VirtualDeviceList {
		d := devices.CreateDisk(ctrl.(types.BaseVirtualController), types.ManagedObjectReference{}, f)
		unit := vice.DataDiskUnit
		d.UnitNumber = &unit
		return append(slices.Clone(devices), d)
	}
	for _, c := range []struct {
		name    string
		before  string
		devices object.VirtualDeviceList
		want    string
	}{
		{"no data disk before", "", devices, ""},
		{"the revert dropped it", file, devices, file},
		{"still there", file, withDisk(file), ""},
		{"still there, its delta renamed", file, withDisk("[LocalDS_0] up/up-000002.vmdk"), ""},
	} {
		got, err := orphanDataDisk(c.before, c.devices)
		if err != nil || got != c.want {
			t.Errorf("%s: %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

// After a revert that dropped the data disk the upgrade added (what
// vSphere does; the simulator's revert keeps devices, so the test removes
// it, keeping its file), the rollback's last step deletes the file; while
// the disk is attached it is kept.
func TestRollbackRemovesOrphanDataDisk(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	v, err := s.Create(ctx, baseOptions("orphan"))
	if err != nil {
		t.Fatal(err)
	}
	const file = "[LocalDS_0] orphan/orphan.vmdk"
	before, err := s.dataDiskFile(ctx, v)
	if err != nil || before != file {
		t.Fatalf("data disk file: %q (%v)", before, err)
	}
	ds := ds0(t, s)
	if err := s.removeOrphanDataDisk(ctx, v, before); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(ctx, "orphan/orphan.vmdk"); err != nil {
		t.Fatalf("the attached data disk's file was deleted: %v", err)
	}
	removeDisks(t, s, v, true)
	if _, err := ds.Stat(ctx, "orphan/orphan.vmdk"); err != nil {
		t.Fatalf("removing the device keeping its file lost the file: %v", err)
	}
	if err := s.removeOrphanDataDisk(ctx, v, before); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Stat(ctx, "orphan/orphan.vmdk"); err == nil {
		t.Error("the orphaned data disk's file stays")
	}
	// Gone already (a server that deleted it with the revert): fine.
	if err := s.removeOrphanDataDisk(ctx, v, before); err != nil {
		t.Errorf("orphan already gone: %v", err)
	}
}

// When reading the devices back fails after the data disk was added,
// endpointDataDisk still returns the disk, and a failed upgrade removes
// it with its file.
func TestUpgradeDataDiskReadBackFails(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	if _, err := s.Create(ctx, baseOptions("rb")); err != nil {
		t.Fatal(err)
	}
	v, err := s.Find(ctx, "rb", "")
	if err != nil {
		t.Fatal(err)
	}
	ds := ds0(t, s)
	// failReadAfterAdd makes the first property read after the next
	// ReconfigVM_Task fail.
	failReadAfterAdd := func() {
		var mu sync.Mutex
		reconfigured := false
		sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "ReconfigVM_Task", ObjectType: "*", ObjectName: "*", Enabled: true,
			InclusionPropertyFilter: func(mo.Reference) bool {
				mu.Lock()
				defer mu.Unlock()
				reconfigured = true
				return false // never injects: it only notes the call
			}})
		sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "RetrievePropertiesEx", ObjectType: "*", ObjectName: "*",
			Probability: 1, MaxCount: 1, FaultType: simulator.FaultTypeInsufficientResourcesFault, Message: "injected read", Enabled: true,
			ExclusionPropertyFilter: func(mo.Reference) bool {
				mu.Lock()
				defer mu.Unlock()
				return !reconfigured
			}})
	}
	removeDisks(t, s, v, false)
	failReadAfterAdd()
	added, err := s.endpointDataDisk(ctx, v)
	sm.service.ClearFaultRules()
	if err == nil || !strings.Contains(err.Error(), "after adding") || added == nil {
		t.Fatalf("data disk step whose read-back fails: added %v, %v", added, err)
	}
	if f, err := s.dataDiskFile(ctx, v); err != nil || f != "[LocalDS_0] rb/rb.vmdk" {
		t.Fatalf("the disk was not added: %q (%v)", f, err)
	}

	removeDisks(t, s, v, false)
	if err := waitTask(ctx, v.VM.PowerOn); err != nil {
		t.Fatal(err)
	}
	failReadAfterAdd()
	err = s.Upgrade(ctx, v, "v0.0.2", false, UpgradeISOs{})
	sm.service.ClearFaultRules()
	if !fault.Is(err, &types.InsufficientResourcesFault{}) || !strings.Contains(err.Error(), "after adding") {
		t.Fatalf("upgrade whose data disk read-back fails: %v", err)
	}
	if f, err := s.dataDiskFile(ctx, v); err != nil || f != "" {
		t.Errorf("the endpoint VM's data disk after the failed upgrade: %q (%v)", f, err)
	}
	if _, err := ds.Stat(ctx, "rb/rb.vmdk"); err == nil {
		t.Error("the failed upgrade left the data disk's file")
	}
}
