package vsimtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap/zaptest"
)

func pvscsi(key int32) *types.ParaVirtualSCSIController {
	return &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: key}}}}
}

func scsiDisk(key, ctrl, unit int32, b *types.VirtualDiskFlatVer2BackingInfo) *types.VirtualDisk {
	return &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: key, ControllerKey: ctrl, UnitNumber: types.NewInt32(unit), Backing: b}}
}

// TestDiffDisks: a running VM's disks are told apart by device key,
// controller, unit and file; disks on other controllers or without a
// flat backing are not the host's; the boot disks are the command line's
// disk-pvscsiN-U; a disk replaced at its unit is a removal and an
// addition; while a disk is still being removed no disk is added.
func TestDiffDisks(t *testing.T) {
	devs := []types.BaseVirtualDevice{
		pvscsi(1000), pvscsi(1001),
		scsiDisk(2000, 1000, 0, childBacking("[ds1] a/a.vmdk", nil)),
		scsiDisk(2001, 1001, 3, childBacking("[ds1] b/b.vmdk", childBacking("[ds1] a/a.vmdk", nil))),
		scsiDisk(2002, 200, 0, childBacking("[ds1] ide/ide.vmdk", nil)), // not on a PVSCSI controller
		&types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: 2003, ControllerKey: 1000, UnitNumber: types.NewInt32(1),
			Backing: &types.VirtualDiskRawDiskMappingVer1BackingInfo{}}},
	}
	boot := bootDisks(devs)
	if len(boot) != 2 || boot[0].Device != "disk-pvscsi0-0" || boot[0].Ctrl != "pvscsi0" || boot[1].Device != "disk-pvscsi1-3" || boot[1].Unit != 3 ||
		boot[1].File != "[ds1] b/b.vmdk" || boot[1].backing.Parent == nil || boot[0].Node != "" {
		t.Fatalf("boot disks %+v", boot)
	}
	if c := controllersOf(devs); !reflect.DeepEqual(c, map[string]bool{"pvscsi0": true, "pvscsi1": true}) {
		t.Fatalf("controllers %v", c)
	}
	same := disksOf(devs)
	if add, rm := diffDisks(boot, same); len(add) != 0 || len(rm) != 0 {
		t.Fatalf("no change: add %+v, remove %v", add, rm)
	}
	hot := vmDisk{Key: 2004, Ctrl: "pvscsi0", Unit: 2, File: "[ds1] c/c.vmdk"}
	if add, rm := diffDisks(boot, append(same, hot)); len(add) != 1 || !add[0].same(hot) || len(rm) != 0 {
		t.Fatalf("plug: add %+v, remove %v", add, rm)
	}
	have := append(boot, runDisk{vmDisk: hot, Device: "hotdisk1", Node: "hotdrv1"})
	if add, rm := diffDisks(have, same); len(add) != 0 || !reflect.DeepEqual(rm, []int{2}) {
		t.Fatalf("unplug: add %+v, remove %v", add, rm)
	}
	// Another disk at the hot disk's unit: the old one goes, the new
	// one comes.
	next := vmDisk{Key: 2005, Ctrl: "pvscsi0", Unit: 2, File: "[ds1] d/d.vmdk"}
	add, rm := diffDisks(have, append(same, next))
	if len(add) != 1 || !add[0].same(next) || !reflect.DeepEqual(rm, []int{2}) {
		t.Fatalf("replace: add %+v, remove %v", add, rm)
	}
	// While the old one's removal is under way, the new one waits, and
	// so does a disk at another unit (it may be a child of the old one);
	// removals go on.
	have[2].Removing = time.Now()
	other := vmDisk{Key: 2006, Ctrl: "pvscsi1", Unit: 2, File: "[ds1] e/e.vmdk"}
	if add, rm := diffDisks(have, append(same[:1], next, other)); len(add) != 0 || !reflect.DeepEqual(rm, []int{1}) {
		t.Fatalf("removal under way: add %+v, remove %v", add, rm)
	}
	// A broken disk being removed holds nothing up.
	have[2].Broken = true
	if add, rm := diffDisks(have, append(same, next)); len(add) != 1 || !add[0].same(next) || len(rm) != 0 {
		t.Fatalf("broken removal: add %+v, remove %v", add, rm)
	}
}

// hmpQemuIO runs a qemu-io command on the disk device dev over the
// monitor and fails the test on an error or a pattern that does not
// match.
func hmpQemuIO(t *testing.T, ctx context.Context, q *qmpClient, dev, cmd string) {
	t.Helper()
	out, err := q.HMP(ctx, "qemu-io -d "+dev+` "`+cmd+`"`)
	if err != nil || strings.Contains(out, "failed") || strings.Contains(out, "error") || strings.Contains(strings.ToLower(out), "not found") {
		t.Fatalf("qemu-io %s %q: %v\n%s", dev, cmd, err, out)
	}
}

// blockNodes lists QEMU's named block nodes.
func blockNodes(t *testing.T, ctx context.Context, q *qmpClient) map[string]string {
	t.Helper()
	var nodes []struct {
		NodeName string `json:"node-name"`
		File     string `json:"file"`
	}
	if err := q.Execute(ctx, "query-named-block-nodes", nil, &nodes); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, n := range nodes {
		out[n.NodeName] = n.File
	}
	return out
}

// syncUntil syncs g's disks to want as the host's polls would, until g
// has n disks.
func syncUntil(t *testing.T, ctx context.Context, h *QEMUHost, g *guest, want []vmDisk, n int) {
	t.Helper()
	for len(g.disks) != n {
		h.syncDisks(ctx, g, want)
		select {
		case <-ctx.Done():
			t.Fatalf("disks %+v, want %d", g.disks, n)
		case <-time.After(pollEvery):
		}
	}
}

func hasDevice(t *testing.T, ctx context.Context, q *qmpClient, id string) bool {
	t.Helper()
	var unit int
	err := q.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/" + id, "property": "scsi-id"}, &unit)
	return err == nil
}

// TestHotPlugDisks: against a real QEMU started as args starts a VM with
// a PVSCSI controller and one disk, syncDisks hot-adds a child disk of a
// base at its unit (a scsi-hd on the controller's bus, over a delta file
// beside its descriptor whose backing is the base's extent); what is
// written to it (through QEMU's block layer, as a guest would) lands in
// the delta file, not the base; removed from the configuration, the disk
// leaves QEMU (device and node) and its delta file stays; a child of that
// child, hot-added at the same unit, reads the first child's writes and
// the base's content beneath. The boot disk is hot-removed by its id.
func TestHotPlugDisks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ds := t.TempDir()
	h := &QEMUHost{log: zaptest.NewLogger(t), dir: t.TempDir(), accel: "tcg", ds: map[string]string{"ds1": ds}, switches: map[string]*portSwitch{}}
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	close(h.done)
	defer h.Close()
	const capacity = 16 << 20
	base := bytes.Repeat([]byte{0x11}, 2<<20) // the base's first 2 MiB
	flatDisk(t, filepath.Join(ds, "base"), "base", capacity, string(base))
	for _, n := range []string{"vol", "c1", "c2"} {
		flatDisk(t, filepath.Join(ds, n), n, capacity, "")
	}
	devs := []types.BaseVirtualDevice{pvscsi(1000), scsiDisk(2000, 1000, 0, childBacking("[ds1] vol/vol.vmdk", nil))}
	args, err := h.args(ctx, &types.VirtualMachineConfigInfo{Hardware: types.VirtualHardware{Device: devs}}, "vm1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The command line's controller and disk (not its monitor, console
	// or machine: startQEMU gives those).
	var extra []string
	for i := 0; i+1 < len(args); i++ {
		if (args[i] == "-device" && (strings.HasPrefix(args[i+1], "pvscsi") || strings.HasPrefix(args[i+1], "scsi-hd"))) ||
			(args[i] == "-drive" && strings.Contains(args[i+1], "if=none")) {
			extra = append(extra, args[i], args[i+1])
		}
	}
	if len(extra) != 6 {
		t.Fatalf("controller and disk arguments %q of %q", extra, args)
	}
	sock := startQEMU(t, extra...)
	g := &guest{name: "vm1", disks: bootDisks(devs), ctrls: controllersOf(devs), qmpPath: sock, exited: make(chan struct{})}
	defer func() {
		if g.qmp != nil {
			g.qmp.Close()
		}
	}()
	// Nothing to change: the monitor is not even dialled.
	h.syncDisks(ctx, g, disksOf(devs))
	if g.qmp != nil || len(g.disks) != 1 {
		t.Fatalf("with nothing to change: %+v", g.disks)
	}

	// Plug c1, a child of the base, at unit 1.
	c1 := scsiDisk(2001, 1000, 1, childBacking("[ds1] c1/c1.vmdk", childBacking("[ds1] base/base.vmdk", nil)))
	h.syncDisks(ctx, g, disksOf(append(devs, c1)))
	if g.qmp == nil || len(g.disks) != 2 || g.disks[1].Device != "hotdisk1" || g.disks[1].Node != "hotdrv1" || g.disks[1].Broken {
		t.Fatalf("disks after plug %+v", g.disks)
	}
	var unit int
	if err := g.qmp.Execute(ctx, "qom-get", map[string]string{"path": "/machine/peripheral/hotdisk1", "property": "scsi-id"}, &unit); err != nil || unit != 1 {
		t.Fatalf("hotdisk1's scsi-id %d %v", unit, err)
	}
	if f := blockNodes(t, ctx, g.qmp)["hotdrv1"]; f != filepath.Join(ds, "c1/c1-delta.qcow2") {
		t.Fatalf("hotdrv1's file %q", f)
	}
	hmpQemuIO(t, ctx, g.qmp, "hotdisk1", "read -P 0x11 0 64k")
	hmpQemuIO(t, ctx, g.qmp, "hotdisk1", "write -P 0x5a 0 64k")
	hmpQemuIO(t, ctx, g.qmp, "hotdisk1", "read -P 0x5a 0 64k")
	// The same configuration again changes nothing.
	h.syncDisks(ctx, g, disksOf(append(devs, c1)))
	if len(g.disks) != 2 || g.diskSeq != 1 {
		t.Fatalf("disks after a second look %+v", g.disks)
	}

	// Unplug c1: device and node go (the node once QEMU let go of it: the
	// host's polls try again), its delta file stays, the base is
	// untouched.
	syncUntil(t, ctx, h, g, disksOf(devs), 1)
	if len(g.disks) != 1 || g.disks[0].Device != "disk-pvscsi0-0" {
		t.Fatalf("disks after unplug %+v", g.disks)
	}
	if hasDevice(t, ctx, g.qmp, "hotdisk1") {
		t.Fatal("hotdisk1 is still in QEMU")
	}
	if _, ok := blockNodes(t, ctx, g.qmp)["hotdrv1"]; ok {
		t.Fatal("hotdrv1 is still open")
	}
	if st, err := os.Stat(filepath.Join(ds, "c1/c1-delta.qcow2")); err != nil || st.Size() < 64<<10 {
		t.Fatalf("c1's delta file after unplug: %v %v", st, err)
	}
	if b, err := os.ReadFile(filepath.Join(ds, "base/base-flat.vmdk")); err != nil || !bytes.Equal(b[:2<<20], base) {
		t.Fatalf("the base changed: %v", err)
	}

	// c2, a child of c1, at the same unit: c1's writes over the base's.
	c2 := scsiDisk(2002, 1000, 1, childBacking("[ds1] c2/c2.vmdk", childBacking("[ds1] c1/c1.vmdk", nil)))
	h.syncDisks(ctx, g, disksOf(append(devs, c2)))
	if len(g.disks) != 2 || g.disks[1].Device != "hotdisk2" || g.disks[1].Broken {
		t.Fatalf("disks after the second plug %+v", g.disks)
	}
	if qi := imgInfo(t, filepath.Join(ds, "c2/c2-delta.qcow2")); qi.Backing != filepath.Join(ds, "c1/c1-delta.qcow2") || qi.BackingFormat != "qcow2" {
		t.Fatalf("c2's delta: %+v", qi)
	}
	hmpQemuIO(t, ctx, g.qmp, "hotdisk2", "read -P 0x5a 0 64k")
	hmpQemuIO(t, ctx, g.qmp, "hotdisk2", "read -P 0x11 64k 64k")
	hmpQemuIO(t, ctx, g.qmp, "hotdisk2", "read -P 0x0 4M 64k")

	// The boot disk goes by its id; c2 stays.
	syncUntil(t, ctx, h, g, disksOf([]types.BaseVirtualDevice{devs[0], c2}), 1)
	if len(g.disks) != 1 || g.disks[0].Device != "hotdisk2" || hasDevice(t, ctx, g.qmp, "disk-pvscsi0-0") {
		t.Fatalf("disks after the boot disk's unplug %+v", g.disks)
	}
	// A disk on a controller QEMU lacks is left out.
	h.syncDisks(ctx, g, disksOf([]types.BaseVirtualDevice{devs[0], c2, pvscsi(1001), scsiDisk(2003, 1001, 0, childBacking("[ds1] vol/vol.vmdk", nil))}))
	if len(g.disks) != 2 || !g.disks[1].Broken || g.disks[1].Node != "" {
		t.Fatalf("a disk on a missing controller %+v", g.disks)
	}
}
