// Package vsdisk writes image layers into disks from inside the endpoint
// VM, the way VIC's port layer did: vchd runs in that VM, so to write a
// layer it gives its own VM the layer's disk, fills it, and takes the disk
// away again. It is the vsstorage.LayerWriter of a vchd that runs in the
// endpoint VM (cmd/vchd wires it when vsphere.endpointVM is set).
//
// One WriteLayer, in order (one at a time: the attaches are serialised):
//
//  1. reconfigure the endpoint VM to add a disk on its PVSCSI controller
//     at a free unit, never vice.DataDiskUnit (the endpoint's data disk,
//     vchd's own state, is there): a child disk of the parent layer's disk (the backing
//     names it as Parent, file operation create), or for a base layer a
//     new thin disk of the capacity asked;
//  2. in the guest, find the new block device by its SCSI address: the
//     PVSCSI controller's host, channel 0, target = the unit number, LUN
//     0 (/sys/bus/scsi/devices/H:0:T:0/block/NAME), asking the host to
//     scan that target when the hot-add notice is slow;
//  3. format it ext4 (a base layer only: a child shows its parent's file
//     system), mount it, let fill write the layer's diff into it, sync,
//     unmount;
//  4. delete the SCSI device in the guest (so nothing refers to it when
//     it goes), then reconfigure to remove the device without destroying
//     its file.
//
// A failure after step 1 unmounts, deletes the guest's device and removes
// the disk with its file (file operation destroy), so nothing of it is
// left; a failed step 1 deletes whatever file it may have made. Every
// detach and removal names the device WriteLayer added (found by its
// file), so no other disk of the VM is ever taken away.
package vsdisk

import (
	"context"
	"fmt"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

// Guest is what WriteLayer does inside the VM it attaches disks to.
// LinuxGuest is the endpoint VM's; tests give their own.
type Guest interface {
	// Device waits for the block device at the unit of the VM's PVSCSI
	// controller and returns its path; release deletes it from the
	// guest (before the disk is hot-removed).
	Device(ctx context.Context, unit int32) (dev string, release func() error, err error)
	// Format makes an empty ext4 file system on dev.
	Format(ctx context.Context, dev string) error
	// Mount mounts dev and returns the directory; unmount syncs and
	// unmounts it.
	Mount(ctx context.Context, dev string) (dir string, unmount func() error, err error)
}

// Config places the writer.
type Config struct {
	Session *vsession.Session
	// VM is the endpoint VM's name (or inventory path): the VM this
	// process runs in.
	VM     string
	Guest  Guest
	Logger *zap.Logger
}

// Writer implements vsstorage.LayerWriter by attaching each disk to the
// endpoint VM.
type Writer struct {
	cfg Config
	log *zap.Logger
	mu  sync.Mutex // one disk attached at a time
}

// New makes a writer.
func New(cfg Config) (*Writer, error) {
	if cfg.Session == nil || cfg.VM == "" || cfg.Guest == nil {
		return nil, errdefs.InvalidParameter("layer writer: Session, VM and Guest are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Writer{cfg: cfg, log: cfg.Logger}, nil
}

// WriteLayer creates the disk at the datastore path disk, a child of
// parent or (parent "") a new ext4 disk of capacityKB, fills it through
// the endpoint VM and detaches it, keeping its file.
func (w *Writer) WriteLayer(ctx context.Context, disk, parent string, capacityKB int64, fill func(ctx context.Context, dir string) error) (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.cfg.Session
	vm, err := s.Finder.VirtualMachine(ctx, w.cfg.VM)
	if err != nil {
		return fmt.Errorf("the endpoint VM %q: %w", w.cfg.VM, vsession.Classify(err))
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return fmt.Errorf("the endpoint VM's devices: %w", vsession.Classify(err))
	}
	dev, err := newDisk(devices, disk, parent, capacityKB)
	if err != nil {
		return err
	}
	unit := *dev.UnitNumber
	log := w.log.With(zap.String("disk", disk), zap.String("parent", parent), zap.Int32("unit", unit))
	if err := w.reconfigure(ctx, vm, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd,
		FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: dev}); err != nil {
		w.deleteFile(ctx, disk, log)
		return fmt.Errorf("attach %s to the endpoint VM: %w", disk, err)
	}
	attached, err := w.attached(ctx, vm, disk)
	if err != nil {
		w.deleteFile(ctx, disk, log)
		return err
	}
	// From here a failure takes the disk away with its file.
	var release, unmount func() error
	defer func() {
		if err == nil {
			return
		}
		if unmount != nil {
			if uerr := unmount(); uerr != nil {
				log.Warn("unmount a layer disk that failed", zap.Error(uerr))
			}
		}
		if release != nil {
			if rerr := release(); rerr != nil {
				log.Warn("delete a failed layer disk's device in the guest", zap.Error(rerr))
			}
		}
		if derr := w.reconfigure(ctx, vm, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove,
			FileOperation: types.VirtualDeviceConfigSpecFileOperationDestroy, Device: attached}); derr != nil {
			log.Error("a failed layer disk not removed from the endpoint VM", zap.Error(derr))
		}
	}()
	path, rel, err := w.cfg.Guest.Device(ctx, unit)
	if err != nil {
		return fmt.Errorf("layer disk %s at unit %d: %w", disk, unit, err)
	}
	release = rel
	if parent == "" {
		if err := w.cfg.Guest.Format(ctx, path); err != nil {
			return fmt.Errorf("layer disk %s: %w", disk, err)
		}
	}
	dir, um, err := w.cfg.Guest.Mount(ctx, path)
	if err != nil {
		return fmt.Errorf("layer disk %s: %w", disk, err)
	}
	unmount = um
	if err := fill(ctx, dir); err != nil {
		return fmt.Errorf("layer disk %s: %w", disk, err)
	}
	unmount = nil
	if err := um(); err != nil {
		return fmt.Errorf("layer disk %s: %w", disk, err)
	}
	release = nil
	if err := rel(); err != nil {
		return fmt.Errorf("layer disk %s: %w", disk, err)
	}
	// Detach, keeping the file: no file operation.
	if err := w.reconfigure(ctx, vm, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: attached}); err != nil {
		return fmt.Errorf("detach %s from the endpoint VM: %w", disk, err)
	}
	log.Info("layer disk written")
	return nil
}

// newDisk is the disk device to add: on the VM's PVSCSI controller at a
// free unit, a child of parent or a new disk of capacityKB.
func newDisk(devices object.VirtualDeviceList, disk, parent string, capacityKB int64) (*types.VirtualDisk, error) {
	var ctrl types.BaseVirtualController
	for _, c := range devices.SelectByType((*types.ParaVirtualSCSIController)(nil)) {
		if ctrl != nil {
			return nil, errdefs.FailedPrecondition("the endpoint VM has more than one PVSCSI controller; layers are written through its only one")
		}
		ctrl = c.(types.BaseVirtualController)
	}
	if ctrl == nil {
		return nil, errdefs.FailedPrecondition("the endpoint VM has no PVSCSI controller to attach layer disks to (vic-machine create gives it one)")
	}
	dev := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, disk)
	unit := freeUnit(devices, ctrl)
	if unit < 0 {
		return nil, errdefs.Unavailable("the endpoint VM's PVSCSI controller has no free unit")
	}
	dev.UnitNumber = &unit
	b := dev.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	b.DiskMode = string(types.VirtualDiskModePersistent)
	b.Datastore = nil
	if parent != "" {
		b.Parent = &types.VirtualDiskFlatVer2BackingInfo{
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: parent},
			DiskMode:                     string(types.VirtualDiskModePersistent),
		}
	} else {
		dev.CapacityInKB = capacityKB
	}
	return dev, nil
}

// maxUnits is how many units freeUnit looks at on a controller (as many
// as govmomi's own choice does).
const maxUnits = 30

// freeUnit is the lowest unit of ctrl that no device of devices has, but
// the controller's own unit and the data disk's (vice.DataDiskUnit, kept
// for it even on an endpoint VM that has no data disk yet, so a layer
// disk is never where the appliance looks for its state); -1 if none is
// free.
func freeUnit(devices object.VirtualDeviceList, ctrl types.BaseVirtualController) int32 {
	used := map[int32]bool{vice.DataDiskUnit: true}
	if sc, ok := ctrl.(types.BaseVirtualSCSIController); ok {
		used[sc.GetVirtualSCSIController().ScsiCtlrUnitNumber] = true
	}
	key := ctrl.GetVirtualController().Key
	for _, d := range devices {
		if v := d.GetVirtualDevice(); v.ControllerKey == key && v.UnitNumber != nil {
			used[*v.UnitNumber] = true
		}
	}
	for u := int32(0); u < maxUnits; u++ {
		if !used[u] {
			return u
		}
	}
	return -1
}

// attached finds the disk device whose file is disk.
func (w *Writer) attached(ctx context.Context, vm *object.VirtualMachine, disk string) (*types.VirtualDisk, error) {
	devices, err := vm.Device(ctx)
	if err != nil {
		return nil, fmt.Errorf("the endpoint VM's devices: %w", vsession.Classify(err))
	}
	for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		if b, ok := d.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.FileName == disk {
			return d.(*types.VirtualDisk), nil
		}
	}
	return nil, errdefs.NotFound(fmt.Sprintf("disk %s is not on the endpoint VM after its attach", disk))
}

func (w *Writer) reconfigure(ctx context.Context, vm *object.VirtualMachine, change *types.VirtualDeviceConfigSpec) error {
	ctx = context.WithoutCancel(ctx) // a change half made is worse than a late one
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{change}})
	if err != nil {
		return vsession.Classify(err)
	}
	return w.cfg.Session.Wait(ctx, "reconfigure the endpoint VM", task)
}

// deleteFile deletes a disk an attach may have made.
func (w *Writer) deleteFile(ctx context.Context, disk string, log *zap.Logger) {
	s := w.cfg.Session
	task, err := object.NewVirtualDiskManager(s.Client).DeleteVirtualDisk(context.WithoutCancel(ctx), disk, s.Datacenter)
	if err == nil {
		err = s.Wait(context.WithoutCancel(ctx), "delete "+disk, task)
	}
	if err != nil && !errdefs.IsNotFound(vsession.Classify(err)) {
		log.Warn("a layer disk whose attach failed not deleted", zap.Error(err))
	}
}
