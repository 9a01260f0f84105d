package vsphere

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// configure changes pool settings, adds stores and container networks and
// the ops password, all read back from vSphere; a refused change changes
// nothing.
func TestConfigure(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	v, err := s.Create(ctx, baseOptions("cfg"))
	if err != nil {
		t.Fatal(err)
	}
	find := func() *VCH {
		t.Helper()
		got, err := s.Find(ctx, "cfg", "")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	pass, debug := "new-secret", true
	res, err := s.Configure(ctx, find(), ConfigureOptions{
		CPU:                  &vice.Allocation{Limit: 3000, Reservation: 1000, Shares: "low"},
		AddVolumeStores:      []string{"LocalDS_0/fast/store:fast"},
		AddContainerNetworks: []vice.ContainerNetwork{{PortGroup: vice.PortGroup{Name: "VM Network"}, Alias: "public"}},
		OpsPassword:          &pass, Debug: &debug,
	})
	if err != nil || !res.Changed || !res.Restarted {
		t.Fatalf("configure: %+v %v", res, err)
	}
	got := find()
	c := got.Config
	if c.Resources.CPU.Limit != 3000 || c.Ops.Password != "new-secret" || !c.Debug || len(c.Storage.Volumes) != 2 ||
		len(c.Network.Containers) != 1 || c.Network.Containers[0].PortGroup.ID == "" || c.Name != "cfg" || c.Network.Bridge.Name != "DC0_DVPG0" {
		t.Errorf("config after configure: %+v", c)
	}
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, v.Pool, []string{"config"}, &rp); err != nil {
		t.Fatal(err)
	}
	if *rp.Config.CpuAllocation.Limit != 3000 || *rp.Config.CpuAllocation.Reservation != 1000 || *rp.Config.MemoryAllocation.Limit != 4096 {
		t.Errorf("pool after configure: cpu %+v memory %+v", rp.Config.CpuAllocation, rp.Config.MemoryAllocation)
	}
	if !contains(inventory(t, s), "file [LocalDS_0] fast/store/volumes") {
		t.Error("new volume store folder not made")
	}
	if res, err := s.Configure(ctx, find(), ConfigureOptions{Debug: &debug}); err != nil || res.Changed || res.Restarted {
		t.Errorf("configure with nothing new: %+v %v", res, err)
	}

	before := inventory(t, s)
	for _, o := range []ConfigureOptions{
		{AddVolumeStores: []string{"LocalDS_0/x:fast"}},
		{AddVolumeStores: []string{"nods/x:other"}},
		{Memory: &vice.Allocation{Reservation: 1 << 20}},
		{AddContainerNetworks: []vice.ContainerNetwork{{PortGroup: vice.PortGroup{Name: "DC0_DVPG0"}, Alias: "b"}}},
	} {
		if _, err := s.Configure(ctx, find(), o); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("configure %+v: %v", o, err)
		}
	}
	// A failing reconfigure of the VM undoes the pool change and folders.
	sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "ReconfigVM_Task", ObjectType: "*", ObjectName: "*",
		Probability: 1, FaultType: simulator.FaultTypeGeneric, Message: "injected reconfigure", Enabled: true})
	_, err = s.Configure(ctx, find(), ConfigureOptions{CPU: &vice.Allocation{Limit: 500}, AddVolumeStores: []string{"LocalDS_0/late:late"}})
	sm.service.ClearFaultRules()
	if err == nil || !strings.Contains(err.Error(), "injected reconfigure") {
		t.Fatalf("configure with a failing reconfigure: %v", err)
	}
	if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
		t.Errorf("refused configures changed the target: gone %q added %q", gone, added)
	}
	if err := s.propertiesOf(ctx, v.Pool, []string{"config"}, &rp); err != nil {
		t.Fatal(err)
	}
	if *rp.Config.CpuAllocation.Limit != 3000 {
		t.Errorf("pool cpu limit %d after a failed configure", *rp.Config.CpuAllocation.Limit)
	}
}

// upgrade records the new version under a snapshot (and gives an
// endpoint VM without one the PVSCSI controller for layer disks);
// --rollback restores the old one; both refuse when there is nothing to
// do.
func TestUpgradeRollback(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	dir := t.TempDir()
	newISO := func(content string) string {
		f := filepath.Join(dir, content+".iso")
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	o := baseOptions("up")
	o.ApplianceISO, o.BootstrapISO = newISO("appliance-v1"), newISO("bootstrap-v1")
	created, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	cdrom := func(v *VCH) string {
		t.Helper()
		devices, err := v.VM.Device(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cds := devices.SelectByType((*types.VirtualCdrom)(nil))
		if len(cds) != 1 {
			t.Fatalf("%d CD-ROMs", len(cds))
		}
		return cds[0].GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo).FileName
	}
	find := func() *VCH {
		t.Helper()
		got, err := s.Find(ctx, "up", "")
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if err := s.Upgrade(ctx, find(), "v0.0.1-test", false, UpgradeISOs{}); !errors.Is(err, ErrUpToDate) {
		t.Errorf("upgrade to the same version: %v", err)
	}
	if err := s.Rollback(ctx, find()); !errors.Is(err, ErrNoUpgrade) {
		t.Errorf("rollback without upgrade: %v", err)
	}
	// The endpoint VM has the PVSCSI controller vchd writes image layers
	// through; one made before create gave it one gets it at upgrade.
	scsi := func(v *VCH) []types.BaseVirtualDevice {
		t.Helper()
		devices, err := v.VM.Device(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return devices.SelectByType((*types.ParaVirtualSCSIController)(nil))
	}
	if c := scsi(created); len(c) != 1 {
		t.Fatalf("a new endpoint VM's PVSCSI controllers: %d", len(c))
	}
	// ... and its data disk at unit 0 of that controller; one made
	// before create gave it one gets it at upgrade, once.
	dataDisks := func(v *VCH) []string {
		t.Helper()
		devices, err := v.VM.Device(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
			out = append(out, fmt.Sprintf("%s at %d", d.GetVirtualDevice().Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName, *d.GetVirtualDevice().UnitNumber))
		}
		return out
	}
	const dataDisk = "[LocalDS_0] up/up.vmdk at 0"
	if d := dataDisks(created); len(d) != 1 || d[0] != dataDisk {
		t.Fatalf("a new endpoint VM's disks: %q", d)
	}
	removeDisks(t, s, created, false)
	if _, err := ds0(t, s).Stat(ctx, "up/up.vmdk"); err == nil {
		t.Fatal("the data disk's file outlived its removal")
	}
	if err := created.VM.RemoveDevice(ctx, false, scsi(created)...); err != nil {
		t.Fatal(err)
	}
	if err := waitTask(ctx, created.VM.PowerOn); err != nil {
		t.Fatal(err)
	}
	if err := s.Upgrade(ctx, find(), "v0.0.2", false, UpgradeISOs{Appliance: newISO("appliance-v2"), Bootstrap: newISO("bootstrap-v2")}); err != nil {
		t.Fatal(err)
	}
	got := find()
	if c := scsi(got); len(c) != 1 {
		t.Errorf("PVSCSI controllers after upgrade: %d", len(c))
	}
	if d := dataDisks(got); len(d) != 1 || d[0] != dataDisk {
		t.Errorf("the endpoint VM's disks after upgrade: %q", d)
	}
	if err := waitTask(ctx, got.VM.PowerOff); err != nil {
		t.Fatal(err)
	}
	if added, err := s.endpointDataDisk(ctx, got); err != nil || added != nil {
		t.Errorf("a second data disk step added %v (%v)", added, err)
	}
	if err := waitTask(ctx, got.VM.PowerOn); err != nil {
		t.Fatal(err)
	}
	if d := dataDisks(got); len(d) != 1 || d[0] != dataDisk {
		t.Errorf("the endpoint VM's disks after a second data disk step: %q", d)
	}
	if got.Config.Version != "v0.0.2" || got.Config.PreviousVersion != "v0.0.1-test" || got.PowerState != "poweredOn" {
		t.Errorf("after upgrade: %s (was %s), %s", got.Config.Version, got.Config.PreviousVersion, got.PowerState)
	}
	// The new ISOs are beside the old ones, the endpoint boots the new
	// appliance, and new containers will boot the new bootstrap image.
	want := vice.ISO{Appliance: "[LocalDS_0] up/appliance-v0.0.2.iso", Bootstrap: "[LocalDS_0] up/bootstrap-v0.0.2.iso"}
	if got.Config.ISO != want || got.Config.PreviousISO != created.Config.ISO {
		t.Errorf("ISOs after upgrade: %+v (previous %+v), want %+v (previous %+v)", got.Config.ISO, got.Config.PreviousISO, want, created.Config.ISO)
	}
	if cd := cdrom(got); cd != want.Appliance {
		t.Errorf("endpoint CD-ROM after upgrade: %q", cd)
	}
	for f, content := range map[string]string{want.Appliance: "appliance-v2", want.Bootstrap: "bootstrap-v2", created.Config.ISO.Appliance: "appliance-v1"} {
		if got := dsFile(t, s, f); got != content {
			t.Errorf("%s holds %q, want %q", f, got, content)
		}
	}
	if snap, err := got.VM.FindSnapshot(ctx, "vch-upgrade from v0.0.1-test"); err != nil || snap == nil {
		t.Errorf("upgrade snapshot: %v", err)
	}
	if err := s.Rollback(ctx, got); err != nil {
		t.Fatal(err)
	}
	got = find()
	if got.Config.Version != "v0.0.1-test" || got.Config.PreviousVersion != "" || got.PowerState != "poweredOn" {
		t.Errorf("after rollback: %s (previous %q), %s", got.Config.Version, got.Config.PreviousVersion, got.PowerState)
	}
	if got.Config.ISO != created.Config.ISO || cdrom(got) != created.Config.ISO.Appliance {
		t.Errorf("after rollback: ISOs %+v, CD-ROM %q, want %+v", got.Config.ISO, cdrom(got), created.Config.ISO)
	}
	if snap, _ := got.VM.FindSnapshot(ctx, "vch-upgrade from v0.0.1-test"); snap != nil {
		t.Error("rollback kept the snapshot")
	}
	// The simulator's revert keeps the data disk the upgrade added (a real
	// one drops the device, and rollback deletes its file then: see
	// TestRollbackRemovesOrphanDataDisk): a disk still attached keeps its
	// file.
	if d := dataDisks(got); len(d) != 1 || d[0] != dataDisk {
		t.Errorf("the endpoint VM's disks after rollback: %q", d)
	}
	if _, err := ds0(t, s).Stat(ctx, "up/up.vmdk"); err != nil {
		t.Errorf("rollback deleted the file of the data disk still attached: %v", err)
	}
	// A power-on that fails after the new version was written reverts,
	// and removes the data disk the upgrade added, with its file.
	removeDisks(t, s, got, false)
	if err := waitTask(ctx, got.VM.PowerOn); err != nil {
		t.Fatal(err)
	}
	// Only the first power-on fails: the exclusion filter counts under its
	// own lock (the simulator's MaxCount is read racily).
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
	err = s.Upgrade(ctx, got, "v0.0.3", false, UpgradeISOs{Appliance: newISO("appliance-v3")})
	sm.service.ClearFaultRules()
	if !fault.Is(err, &types.InsufficientResourcesFault{}) || !strings.Contains(err.Error(), "reverted to v0.0.1-test") {
		t.Fatalf("failed upgrade: %v", err)
	}
	if got = find(); got.Config.Version != "v0.0.1-test" || got.PowerState != "poweredOn" || got.Config.ISO != created.Config.ISO || cdrom(got) != created.Config.ISO.Appliance {
		t.Errorf("after a failed upgrade: %s, %s, ISOs %+v, CD-ROM %q", got.Config.Version, got.PowerState, got.Config.ISO, cdrom(got))
	}
	ds := ds0(t, s)
	if _, err := ds.Stat(ctx, "up/appliance-v0.0.3.iso"); err == nil {
		t.Error("a failed upgrade left its uploaded ISO")
	}
	if d := dataDisks(got); len(d) != 0 {
		t.Errorf("the endpoint VM's disks after a failed upgrade: %q", d)
	}
	if _, err := ds.Stat(ctx, "up/up.vmdk"); err == nil {
		t.Error("a failed upgrade left the data disk's file")
	}
}

// ds0 is the simulator's datastore LocalDS_0.
func ds0(t *testing.T, s *Session) *object.Datastore {
	t.Helper()
	ds, err := s.Finder.Datastore(ctxT(t), "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// removeDisks powers v's endpoint VM off (when on) and removes its disks,
// their files kept or deleted; it returns the devices the VM had.
func removeDisks(t *testing.T, s *Session, v *VCH, keepFiles bool) object.VirtualDeviceList {
	t.Helper()
	ctx := ctxT(t)
	if err := s.powerOff(ctx, v.VM); err != nil {
		t.Fatal(err)
	}
	devices, err := v.VM.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VM.RemoveDevice(ctx, keepFiles, devices.SelectByType((*types.VirtualDisk)(nil))...); err != nil {
		t.Fatal(err)
	}
	return devices
}

// update firewall --allow/--deny toggles the vSPC ruleset on every host
// of the cluster.
func TestUpdateFirewall(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	state := func() map[string]bool {
		t.Helper()
		out := map[string]bool{}
		place, err := s.ResolveCompute(ctx, "DC0_C0")
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range place.Hosts {
			var h mo.HostSystem
			if err := s.propertiesOf(ctx, ref, []string{"name", "configManager.firewallSystem"}, &h); err != nil {
				t.Fatal(err)
			}
			info, err := object.NewHostFirewallSystem(s.Client, *h.ConfigManager.FirewallSystem).Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = pickRuleset(info.Ruleset).Enabled
		}
		return out
	}
	initially := state()
	defer func() {
		for _, on := range initially {
			_, _ = s.UpdateFirewall(ctx, "DC0_C0", on)
			break
		}
	}()
	hosts, err := s.UpdateFirewall(ctx, "DC0_C0", true)
	if err != nil || len(hosts) != 3 || hosts[0].Ruleset != "vSPC" {
		t.Fatalf("allow: %+v %v", hosts, err)
	}
	for h, on := range state() {
		if !on {
			t.Errorf("host %s: vSPC still disabled", h)
		}
	}
	if _, err := s.UpdateFirewall(ctx, "DC0_C0", false); err != nil {
		t.Fatal(err)
	}
	for h, on := range state() {
		if on {
			t.Errorf("host %s: vSPC still enabled", h)
		}
	}
	if _, err := s.UpdateFirewall(ctx, "nested-vSAN", true); err == nil || !strings.Contains(err.Error(), "unknown compute resource") {
		t.Errorf("unknown cluster: %v", err)
	}
}

// dsFile reads a datastore file ("[ds] path") through the datastore's
// HTTP file API.
func dsFile(t *testing.T, s *Session, file string) string {
	t.Helper()
	ctx := ctxT(t)
	var dp object.DatastorePath
	if !dp.FromString(file) {
		t.Fatalf("datastore path %q", file)
	}
	ds, err := s.Finder.Datastore(ctx, dp.Datastore)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := ds.Download(ctx, dp.Path, &soap.DefaultDownload)
	if err != nil {
		t.Fatalf("download %s: %v", file, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A disk at the data disk's unit whose file is not in the endpoint VM's
// folder (a layer disk an older vchd left attached) is not taken for the
// data disk: upgrade's data disk step refuses, naming it, and adds
// nothing.
func TestDataDiskUnitTaken(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	v, err := s.Create(ctx, baseOptions("taken"))
	if err != nil {
		t.Fatal(err)
	}
	devices := removeDisks(t, s, v, false)
	if err := object.NewFileManager(s.Client).MakeDirectory(ctx, "[LocalDS_0] layers", s.Datacenter, true); err != nil {
		t.Fatal(err)
	}
	ctrl := devices.PickController((*types.ParaVirtualSCSIController)(nil))
	layer := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, "[LocalDS_0] layers/l1.vmdk")
	unit := vice.DataDiskUnit
	layer.UnitNumber, layer.CapacityInKB = &unit, 1024
	if err := v.VM.AddDevice(ctx, layer); err != nil {
		t.Fatal(err)
	}
	added, err := s.endpointDataDisk(ctx, v)
	if err == nil || added != nil || !strings.Contains(err.Error(), "[LocalDS_0] layers/l1.vmdk") {
		t.Fatalf("data disk step over a layer disk at unit %d: added %v, %v", unit, added, err)
	}
	if devices, err = v.VM.Device(ctx); err != nil {
		t.Fatal(err)
	}
	if d := devices.SelectByType((*types.VirtualDisk)(nil)); len(d) != 1 {
		t.Errorf("the endpoint VM's disks: %d", len(d))
	}
}
