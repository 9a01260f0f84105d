package vsimtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
)

// A running VM's disks follow its configuration, as ESXi's do: a disk
// added by a reconfigure on one of the VM's PVSCSI controllers is
// hot-added to its QEMU over the monitor (blockdev-add of the disk's
// image, resolved as at boot: a child disk's delta file over its parent's
// chain, any other disk's flat extent; then device_add scsi-hd on the
// controller's bus with scsi-id = the disk's unit number, which the
// guest's PVSCSI driver hears of as a device added at that target). A
// disk removed from the configuration, with or without its file, is
// hot-removed (device_del, which QEMU finishes at once for a SCSI disk,
// then blockdev-del of a hot-added disk's node, which closes and flushes
// its image). Controllers are not hot-plugged: a disk on a controller the
// QEMU lacks is logged and left out.

// vmDisk is a disk of a VM's configuration on a PVSCSI controller, as the
// host tells disks apart: by device key, controller, unit number and
// file. A change of any of them is a different disk.
type vmDisk struct {
	Key  int32
	Ctrl string // the controller's QEMU id, pvscsiN by the controllers' order
	Unit int32
	File string // the datastore path of its descriptor

	backing *types.VirtualDiskFlatVer2BackingInfo
}

func (d vmDisk) same(o vmDisk) bool {
	return d.Key == o.Key && d.Ctrl == o.Ctrl && d.Unit == o.Unit && d.File == o.File
}

// runDisk is a disk a guest's QEMU has.
type runDisk struct {
	vmDisk
	// Device is its scsi-hd's id: disk-pvscsiN-U for the command line's
	// disks (whose -drive QEMU deletes with the device), hotdiskN for
	// hot-added ones.
	Device string
	// Node is a hot-added disk's block node (hotdrvN); "" for the
	// command line's.
	Node string
	// Removing is when device_del was done and blockdev-del is still to
	// succeed (zero: not being removed).
	Removing time.Time
	// Broken: its hot-add failed (logged), so QEMU has no such disk; it
	// is not tried again.
	Broken bool
}

// bootDiskDevice is the scsi-hd id of the command line's disk whose
// -drive id is drive.
func bootDiskDevice(drive string) string { return "disk-" + drive }

// disksOf lists the disks on the PVSCSI controllers of a VM's devices,
// in their order.
func disksOf(devs []types.BaseVirtualDevice) []vmDisk {
	list := object.VirtualDeviceList(devs)
	var out []vmDisk
	for ci, c := range list.SelectByType((*types.ParaVirtualSCSIController)(nil)) {
		key := c.GetVirtualDevice().Key
		for _, d := range list.SelectByType((*types.VirtualDisk)(nil)) {
			disk := d.(*types.VirtualDisk)
			b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if disk.ControllerKey != key || disk.UnitNumber == nil || !ok {
				continue
			}
			out = append(out, vmDisk{Key: disk.Key, Ctrl: fmt.Sprintf("pvscsi%d", ci), Unit: *disk.UnitNumber, File: b.FileName, backing: b})
		}
	}
	return out
}

// bootDisks are the disks QEMU's command line gives a VM with these
// devices (as args names them).
func bootDisks(devs []types.BaseVirtualDevice) []runDisk {
	var out []runDisk
	for _, d := range disksOf(devs) {
		out = append(out, runDisk{vmDisk: d, Device: bootDiskDevice(fmt.Sprintf("%s-%d", d.Ctrl, d.Unit))})
	}
	return out
}

// controllersOf lists the QEMU ids of the PVSCSI controllers of a VM's
// devices (the command line's).
func controllersOf(devs []types.BaseVirtualDevice) map[string]bool {
	out := map[string]bool{}
	for ci := range object.VirtualDeviceList(devs).SelectByType((*types.ParaVirtualSCSIController)(nil)) {
		out[fmt.Sprintf("pvscsi%d", ci)] = true
	}
	return out
}

// diffDisks compares the disks a QEMU has with the ones its VM's
// configuration wants: add are the wanted disks it lacks, remove the
// indexes (in have) of its disks no longer wanted. Disks being removed
// already count as gone. While one is still being removed (its node not
// yet closed) no disk is added: the new one may be at its unit, or a
// child of it, whose image QEMU cannot open beside the old node's write
// lock.
func diffDisks(have []runDisk, want []vmDisk) (add []vmDisk, remove []int) {
	busy := false
	for _, h := range have {
		busy = busy || (!h.Removing.IsZero() && !h.Broken)
	}
	kept := make([]bool, len(have))
	for _, w := range want {
		found := false
		for i, h := range have {
			if !kept[i] && h.Removing.IsZero() && h.same(w) {
				kept[i], found = true, true
				break
			}
		}
		if !found && !busy {
			add = append(add, w)
		}
	}
	for i, h := range have {
		if !kept[i] && h.Removing.IsZero() {
			remove = append(remove, i)
		}
	}
	// A disk that moves to the unit of one removed in the same change
	// goes in after it: removals are done first.
	return add, remove
}

// monitor connects g's QMP monitor if it is not yet.
func (h *QEMUHost) monitor(ctx context.Context, g *guest) error {
	if g.qmp != nil {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	q, err := dialQMP(cctx, g.qmpPath)
	if err != nil {
		return err
	}
	g.qmp = q
	g.deleted, _ = q.Subscribe("DEVICE_DELETED") // for the guest's life
	return nil
}

// syncDisks hot-adds and hot-removes g's disks to match want.
func (h *QEMUHost) syncDisks(ctx context.Context, g *guest, want []vmDisk) {
	add, remove := diffDisks(g.disks, want)
	pending := false
	for _, d := range g.disks {
		pending = pending || !d.Removing.IsZero()
	}
	if len(add) == 0 && len(remove) == 0 && !pending {
		return
	}
	log := h.log.With(zap.String("vm", g.name))
	if err := h.monitor(ctx, g); err != nil {
		log.Info("disks changed, QEMU's monitor not reached yet", zap.Error(err))
		return
	}
	for _, i := range remove {
		h.unplugDisk(ctx, g, &g.disks[i], log)
	}
	h.reapDisks(ctx, g, log)
	add, _ = diffDisks(g.disks, want) // the removed ones are gone
	for _, d := range add {
		g.disks = append(g.disks, h.plugDisk(ctx, g, d, log))
	}
}

// plugDisk hot-adds d to g's QEMU.
func (h *QEMUHost) plugDisk(ctx context.Context, g *guest, d vmDisk, log *zap.Logger) runDisk {
	g.diskSeq++
	r := runDisk{vmDisk: d, Device: "hotdisk" + strconv.Itoa(g.diskSeq), Node: "hotdrv" + strconv.Itoa(g.diskSeq)}
	log = log.With(zap.String("disk", d.File), zap.String("device", r.Device))
	fail := func(err error) runDisk {
		log.Error("disk added to the running VM, not hot-added to its QEMU", zap.Error(err))
		r.Broken, r.Node = true, ""
		return r
	}
	if !g.ctrls[d.Ctrl] {
		return fail(fmt.Errorf("controller %s: QEMU has no such controller (controllers are not hot-plugged)", d.Ctrl))
	}
	file, format, err := h.diskFile(ctx, d.backing)
	if err != nil {
		return fail(err)
	}
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	node := map[string]any{"driver": format, "node-name": r.Node, "file": map[string]any{"driver": "file", "filename": file}}
	if err := g.qmp.Execute(cctx, "blockdev-add", node, nil); err != nil {
		return fail(err)
	}
	dev := map[string]any{"driver": "scsi-hd", "id": r.Device, "bus": d.Ctrl + ".0", "scsi-id": d.Unit, "lun": 0, "drive": r.Node}
	if err := g.qmp.Execute(cctx, "device_add", dev, nil); err != nil {
		if derr := g.qmp.Execute(cctx, "blockdev-del", map[string]string{"node-name": r.Node}, nil); derr != nil {
			log.Warn("blockdev-del after a failed device_add", zap.Error(derr))
		}
		return fail(err)
	}
	log.Info("disk hot-added", zap.String("image", file), zap.String("format", format), zap.Int32("unit", d.Unit))
	return r
}

// unplugDisk hot-removes d: device_del; a hot-added disk's node is
// deleted by reapDisks.
func (h *QEMUHost) unplugDisk(ctx context.Context, g *guest, d *runDisk, log *zap.Logger) {
	d.Removing = time.Now()
	if d.Broken {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	if err := g.qmp.Execute(cctx, "device_del", map[string]string{"id": d.Device}, nil); err != nil && !strings.Contains(err.Error(), "DeviceNotFound") {
		log.Error("disk removed from the running VM, not hot-removed from its QEMU", zap.String("disk", d.File), zap.String("device", d.Device), zap.Error(err))
	}
	log.Info("disk hot-removed", zap.String("disk", d.File), zap.String("device", d.Device))
}

// reapDisks deletes the nodes of the removed disks (QEMU refuses while
// the device still holds one: tried again at the next poll, for
// ejectWait) and forgets the removed disks.
func (h *QEMUHost) reapDisks(ctx context.Context, g *guest, log *zap.Logger) {
	cctx, cancel := context.WithTimeout(ctx, qmpTimeout)
	defer cancel()
	out := g.disks[:0]
	for _, d := range g.disks {
		if d.Removing.IsZero() {
			out = append(out, d)
			continue
		}
		if d.Node != "" {
			if err := g.qmp.Execute(cctx, "blockdev-del", map[string]string{"node-name": d.Node}, nil); err != nil {
				if time.Since(d.Removing) <= ejectWait {
					log.Debug("a hot-removed disk's node not deleted yet", zap.String("node", d.Node), zap.Error(err))
					out = append(out, d)
					continue
				}
				log.Warn("a hot-removed disk's node not deleted: its image stays open", zap.String("disk", d.File), zap.String("node", d.Node), zap.Error(err))
			}
		}
	}
	g.disks = out
}
