package vscompute

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// LayerDisks gives a container's writable layer: Writable makes (or
// returns) the datastore path of its disk, a child of the image's top
// layer disk, which WritableParent names; RemoveWritable deletes it and
// the image layers only it kept (vsstorage.Store).
type LayerDisks interface {
	Writable(ctx context.Context, container, imageID string) (string, error)
	WritableParent(container string) (string, error)
	RemoveWritable(ctx context.Context, container string) error
}

// addWritable adds the container's writable layer on the PVSCSI
// controller: a persistent (not independent) disk whose backing names the
// image's top layer disk as its parent, made by the VM's create (file
// operation "create" with a parent makes a child disk, of the parent's
// capacity), so the VM sees the image's root filesystem with its own
// changes on top.
func (p *Provider) addWritable(ctx context.Context, list object.VirtualDeviceList, ctrl types.BaseVirtualController, spec compute.Spec) (object.VirtualDeviceList, error) {
	if p.cfg.Layers == nil || spec.Image == "" {
		return list, nil
	}
	disk, err := p.cfg.Layers.Writable(ctx, spec.ID, spec.Image)
	if err != nil {
		return nil, fmt.Errorf("container %s: writable layer: %w", spec.ID, err)
	}
	parent, err := p.cfg.Layers.WritableParent(spec.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: writable layer: %w", spec.ID, err)
	}
	d := list.CreateDisk(ctrl, types.ManagedObjectReference{}, disk)
	b := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	b.DiskMode = string(types.VirtualDiskModePersistent)
	b.Datastore = nil
	b.Parent = &types.VirtualDiskFlatVer2BackingInfo{
		VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: parent},
		DiskMode:                     string(types.VirtualDiskModePersistent),
	}
	return append(list, d), nil
}

// WritableDisk is the datastore path of the writable layer disk attached
// to the container's VM, and its parent's ("" if it has none).
func (p *Provider) WritableDisk(ctx context.Context, id string) (disk, parent string, err error) {
	c, err := p.find(ctx, id)
	if err != nil {
		return "", "", err
	}
	devs, err := object.NewVirtualMachine(p.s.Client, c.ref).Device(ctx)
	if err != nil {
		return "", "", err
	}
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		b, ok := d.(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok || b.DiskMode != string(types.VirtualDiskModePersistent) {
			continue
		}
		if b.Parent != nil {
			parent = b.Parent.FileName
		}
		return b.FileName, parent, nil
	}
	return "", "", errdefs.NotFound(fmt.Sprintf("container %s has no writable layer disk", id))
}

// removeWritable deletes the container's writable layer after its VM.
func (p *Provider) removeWritable(ctx context.Context, id string) error {
	if p.cfg.Layers == nil {
		return nil
	}
	if err := p.cfg.Layers.RemoveWritable(ctx, id); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("container %s: writable layer: %w", id, err)
	}
	return nil
}

// undoWritable removes the writable layer of a create that failed.
func (p *Provider) undoWritable(ctx context.Context, id string) {
	if err := p.removeWritable(context.WithoutCancel(ctx), id); err != nil {
		p.log.Warn("writable layer of a failed create not removed", zap.String("container", id), zap.Error(err))
	}
}
