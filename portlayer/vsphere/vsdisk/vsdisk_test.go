package vsdisk_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/vsphere/vsdisk"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/portlayer/vsphere/vsimtest"
)

// guestLog stands for the endpoint's guest side (which needs the VM's
// kernel): it records what it is asked, mounts a directory of its own,
// and checks, when asked for the device, that the VM has the disk at that
// unit.
type guestLog struct {
	t       *testing.T
	vm      *object.VirtualMachine
	dir     string
	steps   []string
	atUnit  *types.VirtualDisk // the VM's disk at the unit asked for
	release error
}

func (g *guestLog) Device(ctx context.Context, unit int32) (string, func() error, error) {
	g.steps = append(g.steps, "device")
	devs, err := g.vm.Device(ctx)
	if err != nil {
		return "", nil, err
	}
	g.atUnit = nil
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		if u := d.GetVirtualDevice().UnitNumber; u != nil && *u == unit {
			g.atUnit = d.(*types.VirtualDisk)
		}
	}
	if g.atUnit == nil {
		return "", nil, errors.New("no disk at that unit")
	}
	return "/dev/sdx", func() error { g.steps = append(g.steps, "release"); return g.release }, nil
}

func (g *guestLog) Format(ctx context.Context, dev string) error {
	g.steps = append(g.steps, "format "+dev)
	return nil
}

func (g *guestLog) Mount(ctx context.Context, dev string) (string, func() error, error) {
	g.steps = append(g.steps, "mount "+dev)
	return g.dir, func() error { g.steps = append(g.steps, "unmount"); return nil }, nil
}

type fixture struct {
	s      *vsession.Session
	vm     *object.VirtualMachine
	ds     string // the datastore's host directory
	folder string // "[LocalDS_0] NAME"
}

// endpoint makes a VM with a PVSCSI controller (as vic-machine create
// does) and a folder for disks.
func endpoint(t *testing.T, withController bool) fixture {
	t.Helper()
	ctx := context.Background()
	s := vsimtest.Shared(t).Session(t)
	name := "vsdisk-" + strings.ReplaceAll(t.Name(), "/", "-")
	var devices object.VirtualDeviceList
	if withController {
		c, err := devices.CreateSCSIController("pvscsi")
		if err != nil {
			t.Fatal(err)
		}
		devices = append(devices, c)
	}
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		t.Fatal(err)
	}
	folders, err := s.Datacenter.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest",
		Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}, DeviceChange: change}, s.Pool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	vm, err := s.Finder.VirtualMachine(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if task, err := vm.Destroy(context.Background()); err == nil {
			_ = task.Wait(context.Background())
		}
	})
	folder := "[LocalDS_0] " + name + "-layers"
	if err := object.NewFileManager(s.Client).MakeDirectory(ctx, folder, s.Datacenter, true); err != nil {
		t.Fatal(err)
	}
	dsObj, err := s.Finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	var m mo.Datastore
	if err := dsObj.Properties(ctx, dsObj.Reference(), []string{"summary"}, &m); err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, vm: vm, ds: strings.TrimPrefix(m.Summary.Url, "ds://"), folder: folder}
}

func (f fixture) disks(t *testing.T) []types.BaseVirtualDevice {
	t.Helper()
	devs, err := f.vm.Device(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return devs.SelectByType((*types.VirtualDisk)(nil))
}

func (f fixture) exists(t *testing.T, disk string) bool {
	t.Helper()
	var dp object.DatastorePath
	dp.FromString(disk)
	_, err := os.Stat(filepath.Join(f.ds, dp.Path))
	return err == nil
}

// TestWriteLayers: a base layer's disk is added to the endpoint VM as a
// new disk of the capacity asked on its PVSCSI controller (at unit 1: unit
// 0 is the data disk's, even on a VM without one), formatted,
// mounted, filled, unmounted, released in the guest and removed from the
// VM with its file kept; a child layer's disk is added with the base as
// its parent backing (at the unit the base had: it is free again), and
// not formatted. The VM ends with no disk.
func TestWriteLayers(t *testing.T) {
	ctx := context.Background()
	f := endpoint(t, true)
	g := &guestLog{t: t, vm: f.vm, dir: t.TempDir()}
	w, err := vsdisk.New(vsdisk.Config{Session: f.s, VM: f.vm.Name(), Guest: g, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	base, child := f.folder+"/base/base.vmdk", f.folder+"/child/child.vmdk"
	for _, d := range []string{base, child} {
		if err := object.NewFileManager(f.s.Client).MakeDirectory(ctx, d[:strings.LastIndex(d, "/")], f.s.Datacenter, false); err != nil {
			t.Fatal(err)
		}
	}
	var filled []string
	fill := func(ctx context.Context, dir string) error { filled = append(filled, dir); return nil }
	if err := w.WriteLayer(ctx, base, "", 64<<10, fill); err != nil {
		t.Fatal(err)
	}
	if want := "device format /dev/sdx mount /dev/sdx unmount release"; strings.Join(g.steps, " ") != want {
		t.Fatalf("guest steps %q, want %q", strings.Join(g.steps, " "), want)
	}
	b := g.atUnit.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if b.FileName != base || b.Parent != nil || g.atUnit.CapacityInKB != 64<<10 || *g.atUnit.UnitNumber != 1 {
		t.Fatalf("the base's device: %s parent %v, %d KB at unit %d", b.FileName, b.Parent, g.atUnit.CapacityInKB, *g.atUnit.UnitNumber)
	}
	if len(filled) != 1 || filled[0] != g.dir {
		t.Fatalf("filled %v", filled)
	}
	if d := f.disks(t); len(d) != 0 || !f.exists(t, base) {
		t.Fatalf("after the base: the VM's disks %v, the file kept: %v", d, f.exists(t, base))
	}

	g.steps = nil
	if err := w.WriteLayer(ctx, child, base, 64<<10, fill); err != nil {
		t.Fatal(err)
	}
	if want := "device mount /dev/sdx unmount release"; strings.Join(g.steps, " ") != want {
		t.Fatalf("guest steps %q, want %q", strings.Join(g.steps, " "), want)
	}
	b = g.atUnit.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if b.FileName != child || b.Parent == nil || b.Parent.FileName != base || *g.atUnit.UnitNumber != 1 {
		t.Fatalf("the child's device: %s parent %+v at unit %d", b.FileName, b.Parent, *g.atUnit.UnitNumber)
	}
	if d := f.disks(t); len(d) != 0 || !f.exists(t, child) || !f.exists(t, base) {
		t.Fatalf("after the child: the VM's disks %v", d)
	}
}

// TestWriteLayerFails: a fill that fails unmounts, releases the guest's
// device and removes the disk with its file; so does a release that
// fails after a good fill. The VM ends with no disk.
func TestWriteLayerFails(t *testing.T) {
	ctx := context.Background()
	f := endpoint(t, true)
	g := &guestLog{t: t, vm: f.vm, dir: t.TempDir()}
	w, err := vsdisk.New(vsdisk.Config{Session: f.s, VM: f.vm.Name(), Guest: g, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	disk := f.folder + "/bad/bad.vmdk"
	if err := object.NewFileManager(f.s.Client).MakeDirectory(ctx, f.folder+"/bad", f.s.Datacenter, false); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("apply failed")
	err = w.WriteLayer(ctx, disk, "", 64<<10, func(context.Context, string) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("WriteLayer: %v", err)
	}
	if want := "device format /dev/sdx mount /dev/sdx unmount release"; strings.Join(g.steps, " ") != want {
		t.Fatalf("guest steps %q, want %q", strings.Join(g.steps, " "), want)
	}
	if d := f.disks(t); len(d) != 0 || f.exists(t, disk) {
		t.Fatalf("after the failure: the VM's disks %v, the file left: %v", d, f.exists(t, disk))
	}
	g.steps, g.release = nil, errors.New("device busy")
	if err := w.WriteLayer(ctx, disk, "", 64<<10, func(context.Context, string) error { return nil }); err == nil || !strings.Contains(err.Error(), "device busy") {
		t.Fatalf("WriteLayer with a failing release: %v", err)
	}
	if d := f.disks(t); len(d) != 0 || f.exists(t, disk) {
		t.Fatalf("after the failed release: the VM's disks %v, the file left: %v", d, f.exists(t, disk))
	}
}

// TestNoController: an endpoint VM without a PVSCSI controller is a
// failed precondition, and nothing is made.
func TestNoController(t *testing.T) {
	f := endpoint(t, false)
	g := &guestLog{t: t, vm: f.vm, dir: t.TempDir()}
	w, err := vsdisk.New(vsdisk.Config{Session: f.s, VM: f.vm.Name(), Guest: g})
	if err != nil {
		t.Fatal(err)
	}
	disk := f.folder + "/x.vmdk"
	if err := w.WriteLayer(context.Background(), disk, "", 1024, nil); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("WriteLayer: %v", err)
	}
	if len(g.steps) != 0 || f.exists(t, disk) {
		t.Fatalf("steps %v", g.steps)
	}
}

// dataDisk gives the fixture's VM a data disk at vice.DataDiskUnit, as
// vic-machine create does, and returns its file.
func (f fixture) dataDisk(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	devices, err := f.vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctrl := devices.PickController((*types.ParaVirtualSCSIController)(nil))
	disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, "")
	unit := vice.DataDiskUnit
	disk.UnitNumber, disk.CapacityInKB = &unit, 1024
	if err := f.vm.AddDevice(ctx, disk); err != nil {
		t.Fatal(err)
	}
	d := f.disks(t)
	if len(d) != 1 {
		t.Fatalf("the VM's disks after adding the data disk: %v", d)
	}
	return d[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName
}

// TestDataDiskKept: on an endpoint VM with its data disk at unit 0, layer
// disks go to another unit, and neither a write nor a failed one (whose
// disk is removed with its file) detaches the data disk or deletes its
// file.
func TestDataDiskKept(t *testing.T) {
	ctx := context.Background()
	f := endpoint(t, true)
	data := f.dataDisk(t)
	g := &guestLog{t: t, vm: f.vm, dir: t.TempDir()}
	w, err := vsdisk.New(vsdisk.Config{Session: f.s, VM: f.vm.Name(), Guest: g, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	kept := func(when string) {
		t.Helper()
		d := f.disks(t)
		if len(d) != 1 || *d[0].GetVirtualDevice().UnitNumber != vice.DataDiskUnit ||
			d[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName != data || !f.exists(t, data) {
			t.Fatalf("%s: the VM's disks %v, the data disk's file there: %v", when, d, f.exists(t, data))
		}
	}
	good, bad := f.folder+"/good/good.vmdk", f.folder+"/bad/bad.vmdk"
	for _, d := range []string{good, bad} {
		if err := object.NewFileManager(f.s.Client).MakeDirectory(ctx, d[:strings.LastIndex(d, "/")], f.s.Datacenter, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteLayer(ctx, good, "", 64<<10, func(context.Context, string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if u := *g.atUnit.UnitNumber; u == vice.DataDiskUnit {
		t.Fatalf("a layer disk at the data disk's unit %d", u)
	}
	kept("after a layer write")
	boom := errors.New("apply failed")
	if err := w.WriteLayer(ctx, bad, "", 64<<10, func(context.Context, string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("WriteLayer: %v", err)
	}
	if u := *g.atUnit.UnitNumber; u == vice.DataDiskUnit {
		t.Fatalf("a layer disk at the data disk's unit %d", u)
	}
	kept("after a failed layer write")
	if f.exists(t, bad) || !f.exists(t, good) {
		t.Fatalf("layer files: the failed one left %v, the good one kept %v", f.exists(t, bad), f.exists(t, good))
	}
}
