package vsimtest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"
	"go.uber.org/zap/zaptest"
)

// flatDisk writes a flat VMDK (descriptor + extent of size bytes, whose
// first bytes are content) in dir.
func flatDisk(t *testing.T, dir, name string, capacity int64, content string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name+".vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := vmdk.NewDescriptor(vmdk.Extent{Size: capacity / vmdk.SectorSize, Info: name + "-flat.vmdk"}).Write(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-flat.vmdk"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQEMUArgs: a VM's configuration becomes QEMU's command line as an
// ESXi host would run it: the ISO (booted from), the PVSCSI controller
// with the writable layer as a qcow2 delta file beside its descriptor on
// its parent's flat extent at its unit and the volume's flat extent raw (grown to the disk's
// capacity) at its unit, the serial ports by unit number (COM1 the
// console file, COM2 and COM3 reconnecting client sockets, one of them
// routed by SerialRoute), the vmxnet3 NICs with their MACs (one on its
// port group's switch, one on the user network UserNets gives its port
// group), guestinfo as a fw_cfg JSON file (as the Guestinfo hook
// changed it), memory and vCPUs, a QMP monitor in the VM's directory.
func TestQEMUArgs(t *testing.T) {
	ds := t.TempDir()
	h := &QEMUHost{log: zaptest.NewLogger(t), dir: t.TempDir(), accel: "tcg", ds: map[string]string{"ds1": ds}, switches: map[string]*portSwitch{},
		opts: QEMUHostOptions{
			UserNets: map[string]string{"VM Network": "restrict=on,hostfwd=tcp:127.0.0.1:7376-:2376"},
			SerialRoute: func(hp string) string {
				if hp == "10.0.2.15:2377" {
					return "127.0.0.1:7377"
				}
				return hp
			},
			Guestinfo: func(vm string, info map[string]string) error {
				if vm != "vm1" {
					t.Errorf("guestinfo hook for VM %q", vm)
				}
				info["guestinfo.vch.extra"] = "set by the hook"
				return nil
			},
		}}
	defer h.Close()
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	close(h.done)
	if err := os.WriteFile(filepath.Join(ds, "bootstrap.iso"), []byte("iso"), 0o644); err != nil {
		t.Fatal(err)
	}
	flatDisk(t, filepath.Join(ds, "images", "top"), "top", 8<<20, "ext4")
	flatDisk(t, filepath.Join(ds, "volumes", "data"), "data", 4<<20, "")
	flatDisk(t, filepath.Join(ds, "writable", "c1"), "c1", 8<<20, "")
	i32 := types.NewInt32
	const ctrlKey = 1000
	uri := func(u int32, addr string) *types.VirtualSerialPort {
		return &types.VirtualSerialPort{VirtualDevice: types.VirtualDevice{Key: 9000 + u, ControllerKey: 400, UnitNumber: i32(u),
			Backing: &types.VirtualSerialPortURIBackingInfo{VirtualDeviceURIBackingInfo: types.VirtualDeviceURIBackingInfo{ServiceURI: "tcp://" + addr, Direction: "client"}}}}
	}
	cfg := &types.VirtualMachineConfigInfo{
		Hardware: types.VirtualHardware{NumCPU: 2, MemoryMB: 384, Device: []types.BaseVirtualDevice{
			// Out of order on purpose: the ports go by unit number.
			uri(2, "10.0.2.15:2377"),
			&types.VirtualSerialPort{VirtualDevice: types.VirtualDevice{Key: 9000, ControllerKey: 400, UnitNumber: i32(0),
				Backing: &types.VirtualSerialPortFileBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[ds1] vm1/console.log"}}}},
			uri(1, "127.0.0.1:7001"),
			&types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: ctrlKey}}}},
			&types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: 2001, ControllerKey: ctrlKey, UnitNumber: i32(1),
				Backing: &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[ds1] volumes/data/data.vmdk"}, DiskMode: "independent_persistent"}}},
			&types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: 2000, ControllerKey: ctrlKey, UnitNumber: i32(0),
				Backing: &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[ds1] writable/c1/c1.vmdk"}, DiskMode: "persistent",
					Parent: &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[ds1] images/top/top.vmdk"}}}}},
			&types.VirtualCdrom{VirtualDevice: types.VirtualDevice{Key: 3000, Backing: &types.VirtualCdromIsoBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[ds1] bootstrap.iso"}}}},
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Key: 4000, Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "bridge-pg"}}},
				AddressType: "manual", MacAddress: "02:42:ac:10:00:02"}}},
			&types.VirtualVmxnet3{VirtualVmxnet: types.VirtualVmxnet{VirtualEthernetCard: types.VirtualEthernetCard{
				VirtualDevice: types.VirtualDevice{Key: 4001, Backing: &types.VirtualEthernetCardNetworkBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "VM Network"}}},
				AddressType: "manual", MacAddress: "00:50:56:00:00:01"}}},
		}},
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: "guestinfo.vch.id", Value: "abc"},
			&types.OptionValue{Key: "guestinfo.vch.disks", Value: "eyIvIjowfQ"},
			&types.OptionValue{Key: "RUN.container", Value: "not guestinfo"},
		},
	}
	vmDir := filepath.Join(h.dir, "vm-1")
	if err := os.MkdirAll(vmDir, 0o700); err != nil {
		t.Fatal(err)
	}
	args, err := h.args(context.Background(), cfg, "vm1", vmDir)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	sw, err := h.Switch("bridge-pg")
	if err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(ds, "writable", "c1", "c1-delta.qcow2")
	gi := filepath.Join(vmDir, "guestinfo.json")
	for _, want := range []string{
		"-accel tcg -M pc -m 384 -smp 2 -nodefaults -no-user-config -display none -no-reboot -qmp unix:" + filepath.Join(vmDir, qmpSocket) + ",server=on,wait=off",
		"-drive file=" + filepath.Join(ds, "bootstrap.iso") + ",media=cdrom,if=ide,index=2,readonly=on -boot d",
		"-device pvscsi,id=pvscsi0",
		"-drive file=" + filepath.Join(ds, "volumes/data/data-flat.vmdk") + ",format=raw,if=none,id=pvscsi0-1 -device scsi-hd,bus=pvscsi0.0,scsi-id=1,lun=0,drive=pvscsi0-1,id=disk-pvscsi0-1",
		"-drive file=" + overlay + ",format=qcow2,if=none,id=pvscsi0-0 -device scsi-hd,bus=pvscsi0.0,scsi-id=0,lun=0,drive=pvscsi0-0,id=disk-pvscsi0-0",
		"-chardev file,id=serial0,path=" + filepath.Join(ds, "vm1/console.log") + ",append=on -device isa-serial,chardev=serial0,index=0",
		"-chardev socket,id=serial1,host=127.0.0.1,port=7001,server=off,reconnect=1 -device isa-serial,chardev=serial1,index=1",
		"-chardev socket,id=serial2,host=127.0.0.1,port=7377,server=off,reconnect=1 -device isa-serial,chardev=serial2,index=2",
		"-netdev socket,id=net0,connect=" + sw + " -device vmxnet3,netdev=net0,mac=02:42:ac:10:00:02",
		"-netdev user,id=net1,restrict=on,hostfwd=tcp:127.0.0.1:7376-:2376 -device vmxnet3,netdev=net1,mac=00:50:56:00:00:01",
		"-fw_cfg name=opt/vch/guestinfo,file=" + gi,
	} {
		if !strings.Contains(line, want) {
			t.Errorf("QEMU's arguments lack %q:\n%s", want, line)
		}
	}
	b, err := os.ReadFile(gi)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]string
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if len(info) != 3 || info["guestinfo.vch.id"] != "abc" || info["guestinfo.vch.disks"] != "eyIvIjowfQ" || info["guestinfo.vch.extra"] != "set by the hook" {
		t.Fatalf("guestinfo file %s", b)
	}
	out, err := exec.Command("qemu-img", "info", "--output=json", overlay).Output()
	if err != nil {
		t.Fatal(err)
	}
	var qi struct {
		Format        string `json:"format"`
		Backing       string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &qi); err != nil {
		t.Fatal(err)
	}
	if qi.Format != "qcow2" || qi.Backing != filepath.Join(ds, "images/top/top-flat.vmdk") || qi.BackingFormat != "raw" {
		t.Fatalf("overlay: %s", out)
	}
	if st, err := os.Stat(filepath.Join(ds, "volumes/data/data-flat.vmdk")); err != nil || st.Size() != 4<<20 {
		t.Fatalf("the volume's extent: %v %v, want %d bytes", st, err, 4<<20)
	}
	// A second boot keeps the writable layer's overlay.
	before, _ := os.Stat(overlay)
	if strings.Contains(line, "console.log,append=on -device isa-serial,chardev=console") {
		t.Errorf("a VM with serial ports got the console file too:\n%s", line)
	}
	if _, err := h.args(context.Background(), cfg, "vm1", vmDir); err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(overlay); err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the overlay was remade on the second boot")
	}
}

// TestQEMUArgsConsole: a VM without serial ports (the endpoint VM) gets
// COM1 on console.log in its directory.
func TestQEMUArgsConsole(t *testing.T) {
	h := &QEMUHost{log: zaptest.NewLogger(t), dir: t.TempDir(), accel: "tcg", ds: map[string]string{}, switches: map[string]*portSwitch{}}
	vmDir := filepath.Join(h.dir, "vm-2")
	if err := os.MkdirAll(vmDir, 0o700); err != nil {
		t.Fatal(err)
	}
	args, err := h.args(context.Background(), &types.VirtualMachineConfigInfo{}, "endpoint", vmDir)
	if err != nil {
		t.Fatal(err)
	}
	want := "-chardev file,id=console,path=" + filepath.Join(vmDir, "console.log") + ",append=on -device isa-serial,chardev=console,index=0"
	if line := strings.Join(args, " "); !strings.Contains(line, want) {
		t.Errorf("QEMU's arguments lack %q:\n%s", want, line)
	}
}

// qemuImgInfo is what qemu-img info tells of an image.
type qemuImgInfo struct {
	Format        string `json:"format"`
	VirtualSize   int64  `json:"virtual-size"`
	Backing       string `json:"backing-filename"`
	BackingFormat string `json:"backing-filename-format"`
}

func imgInfo(t *testing.T, file string) qemuImgInfo {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", file).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", file, err)
	}
	var qi qemuImgInfo
	if err := json.Unmarshal(out, &qi); err != nil {
		t.Fatal(err)
	}
	return qi
}

func childBacking(file string, parent *types.VirtualDiskFlatVer2BackingInfo) *types.VirtualDiskFlatVer2BackingInfo {
	return &types.VirtualDiskFlatVer2BackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: file}, DiskMode: "persistent", Parent: parent}
}

// TestDiskChain: a chain of child disks resolves down to its base: the
// base (no parent) is its flat extent, raw, grown to its capacity; a
// child's delta file beside its descriptor is a qcow2 of the child's
// capacity over its parent's image; a child of a child is a qcow2 over
// the parent's delta file, whether the backing names only the parent (the
// parent's delta file says it is a child) or the whole chain (a parent
// without a delta file yet gets one first). A disk with a delta file is
// that file on every later attach, parent named or not.
func TestDiskChain(t *testing.T) {
	ds := t.TempDir()
	h := &QEMUHost{log: zaptest.NewLogger(t), dir: t.TempDir(), ds: map[string]string{"ds1": ds}}
	const capacity = 16 << 20
	for _, n := range []string{"l0", "l1", "l2", "l3", "rw"} {
		flatDisk(t, filepath.Join(ds, "images", n), n, capacity, "")
	}
	ctx := context.Background()
	l0 := childBacking("[ds1] images/l0/l0.vmdk", nil)
	file, format, err := h.diskFile(ctx, l0)
	if err != nil || file != filepath.Join(ds, "images/l0/l0-flat.vmdk") || format != "raw" {
		t.Fatalf("base: %s %s %v", file, format, err)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != capacity {
		t.Fatalf("base extent %v %v, want %d bytes", st, err, capacity)
	}
	// l1 over l0, named alone.
	l1 := childBacking("[ds1] images/l1/l1.vmdk", childBacking(l0.FileName, nil))
	file, format, err = h.diskFile(ctx, l1)
	if err != nil || file != filepath.Join(ds, "images/l1/l1-delta.qcow2") || format != "qcow2" {
		t.Fatalf("l1: %s %s %v", file, format, err)
	}
	if qi := imgInfo(t, file); qi.Format != "qcow2" || qi.VirtualSize != capacity || qi.Backing != filepath.Join(ds, "images/l0/l0-flat.vmdk") || qi.BackingFormat != "raw" {
		t.Fatalf("l1's delta: %+v", qi)
	}
	// l2 over l1, the backing naming l1 only (as a device with a parent
	// does): l1's delta file makes it a child.
	l2 := childBacking("[ds1] images/l2/l2.vmdk", childBacking(l1.FileName, nil))
	file, _, err = h.diskFile(ctx, l2)
	if err != nil {
		t.Fatal(err)
	}
	if qi := imgInfo(t, file); qi.Backing != filepath.Join(ds, "images/l1/l1-delta.qcow2") || qi.BackingFormat != "qcow2" {
		t.Fatalf("l2's delta: %+v", qi)
	}
	// rw over l3 over l2, the whole chain named: l3 gets its delta file
	// on the way.
	rw := childBacking("[ds1] images/rw/rw.vmdk", childBacking("[ds1] images/l3/l3.vmdk", childBacking(l2.FileName, childBacking(l1.FileName, l0))))
	file, _, err = h.diskFile(ctx, rw)
	if err != nil {
		t.Fatal(err)
	}
	if qi := imgInfo(t, file); qi.Backing != filepath.Join(ds, "images/l3/l3-delta.qcow2") || qi.BackingFormat != "qcow2" {
		t.Fatalf("rw's delta: %+v", qi)
	}
	if qi := imgInfo(t, filepath.Join(ds, "images/l3/l3-delta.qcow2")); qi.Backing != filepath.Join(ds, "images/l2/l2-delta.qcow2") {
		t.Fatalf("l3's delta: %+v", qi)
	}
	// Attached again, without a parent named: the delta file, kept.
	before, _ := os.Stat(filepath.Join(ds, "images/l2/l2-delta.qcow2"))
	file, format, err = h.diskFile(ctx, childBacking(l2.FileName, nil))
	if err != nil || file != filepath.Join(ds, "images/l2/l2-delta.qcow2") || format != "qcow2" {
		t.Fatalf("l2 again: %s %s %v", file, format, err)
	}
	if after, err := os.Stat(file); err != nil || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("l2's delta file was remade")
	}
	// No half-made files are left.
	if tmps, _ := filepath.Glob(filepath.Join(ds, "images", "*", "*.tmp")); len(tmps) != 0 {
		t.Fatalf("left behind: %v", tmps)
	}
}
