package vsphere

import (
	"context"
	"fmt"
	"path"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// The endpoint VM's data disk holds vchd's state (its root: the image
// index, tags, container logs, the engine ID), which the appliance would
// otherwise keep on its initramfs and lose at every power cycle. It is a
// thin VMDK of vice.DataDiskKB in the endpoint VM's folder (NAME.vmdk,
// named by vSphere), on the endpoint's PVSCSI controller at
// vice.DataDiskUnit, a unit vchd's layer writer never takes; it goes with
// the VM when the VM is destroyed (delete, or create's rollback).

// newDataDisk is the data disk to add on ctrl: a new thin disk, its file
// made by vSphere in the VM's folder.
func newDataDisk(devices object.VirtualDeviceList, ctrl types.BaseVirtualController) *types.VirtualDisk {
	disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, "")
	unit := vice.DataDiskUnit
	disk.UnitNumber = &unit
	disk.CapacityInKB = vice.DataDiskKB
	return disk
}

// dataDiskOf is the endpoint VM's data disk: the disk at vice.DataDiskUnit
// of its PVSCSI controller; nil if it has none. A device of another kind
// at that unit is an error.
func dataDiskOf(devices object.VirtualDeviceList) (*types.VirtualDisk, error) {
	for _, c := range devices.SelectByType((*types.ParaVirtualSCSIController)(nil)) {
		key := c.GetVirtualDevice().Key
		for _, d := range devices {
			v := d.GetVirtualDevice()
			if v.ControllerKey != key || v.UnitNumber == nil || *v.UnitNumber != vice.DataDiskUnit {
				continue
			}
			disk, ok := d.(*types.VirtualDisk)
			if !ok {
				return nil, fmt.Errorf("unit %d of the endpoint's PVSCSI controller, the data disk's, holds a %s", vice.DataDiskUnit, devices.TypeName(d))
			}
			return disk, nil
		}
	}
	return nil, nil
}

// endpointDataDisk gives the endpoint VM (off) its data disk if it has
// none (a VCH made before create gave it one); it returns the disk it
// added, nil if the VM had one already. Once the disk is added the result
// is never nil, even with an error (reading the disk back failed): the
// caller's undo must remove it (removeDataDisk).
func (s *Session) endpointDataDisk(ctx context.Context, v *VCH) (*types.VirtualDisk, error) {
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return nil, fmt.Errorf("devices of endpoint VM: %w", err)
	}
	d, err := dataDiskOf(devices)
	if err != nil {
		return nil, err
	}
	if d != nil {
		// A disk there is the data disk if its file is in the VM's
		// folder; anything else (a layer disk an older vchd left
		// attached) is not taken for it.
		dir, err := s.vmFolderPath(ctx, v)
		if err != nil {
			return nil, err
		}
		file := diskFile(d)
		if path.Dir(file) != dir {
			return nil, fmt.Errorf("endpoint VM %s has the disk %s at unit %d of its PVSCSI controller, where its data disk goes: remove that disk from the VM (keeping its file) and upgrade again", v.ID, file, vice.DataDiskUnit)
		}
		return nil, nil
	}
	ctrls := devices.SelectByType((*types.ParaVirtualSCSIController)(nil))
	if len(ctrls) != 1 {
		return nil, fmt.Errorf("endpoint VM %s has %d PVSCSI controllers: the data disk goes on its one", v.ID, len(ctrls))
	}
	disk := newDataDisk(devices, ctrls[0].(types.BaseVirtualController))
	if err := v.VM.AddDevice(ctx, disk); err != nil {
		return nil, fmt.Errorf("add the data disk to endpoint VM %s: %w", v.ID, err)
	}
	if devices, err = v.VM.Device(ctx); err != nil {
		return disk, fmt.Errorf("devices of endpoint VM after adding its data disk: %w", err)
	}
	if d, err = dataDiskOf(devices); err != nil {
		return disk, err
	}
	if d == nil {
		return disk, fmt.Errorf("endpoint VM %s has no data disk after adding it", v.ID)
	}
	return d, nil
}

// removeDataDisk powers the endpoint VM off and removes its data disk
// with the disk's file (none: nothing to do).
func (s *Session) removeDataDisk(ctx context.Context, v *VCH) error {
	if err := s.powerOff(ctx, v.VM); err != nil {
		return fmt.Errorf("power off endpoint VM %s: %w", v.ID, err)
	}
	devices, err := v.VM.Device(ctx)
	if err != nil {
		return fmt.Errorf("devices of endpoint VM: %w", err)
	}
	d, err := dataDiskOf(devices)
	if err != nil || d == nil {
		return err
	}
	if err := v.VM.RemoveDevice(ctx, false, d); err != nil {
		return fmt.Errorf("remove data disk %s from endpoint VM %s: %w", diskFile(d), v.ID, err)
	}
	return nil
}

// diskFile is a disk's backing file, "[ds] path".
func diskFile(d *types.VirtualDisk) string {
	if b, ok := d.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		return b.GetVirtualDeviceFileBackingInfo().FileName
	}
	return ""
}
