package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// launchSpec is everything the QEMU command line depends on. File names
// inside the container directory are relative: QEMU runs with that
// directory as its working directory, which keeps socket paths short.
type launchSpec struct {
	Accel    string // AccelKVM or AccelTCG
	TBSizeMB int
	CPUs     int
	MemoryMB int64
	Kernel   string
	Initrd   string
	TSCkHz   int
	Extra    []string // more kernel command line arguments
	Image    string   // read-only root filesystem disk
	RW       string
	Config   string
	Volumes  []volumeDisk
	Shares   []fsShare // virtiofs; RAM then shared (memory.go)
	Ctl      string
	QMP      string
	PidFile  string
	Console  string
	Log      string
	NICs     []compute.NIC // one virtio-net-device each, on tap fd 3+i
	// GuestMemory is the RAM backing (GuestMemoryAnon when empty).
	GuestMemory string
	Name        string // VM and process name; "": vch
	// Template boots and clones (template.go): RAM on a file, the serial
	// console on a socket, an incoming migration.
	Template templateLaunch
	// ShareSlots is the number of empty PCIe root ports (microvm with
	// pcie=on) that a template clone hot-adds its virtiofs shares into.
	ShareSlots int
}

// qemuArgs builds QEMU's arguments (without argv[0]).
func qemuArgs(s launchSpec) []string {
	args := []string{"-name", "vch"}
	if s.Name != "" {
		// guest= names the VM (QMP, window title), process= the QEMU
		// process (its comm, as ps and top show it). Names are
		// [A-Za-z0-9_.-] only (the convention and docker names), so no
		// comma needs escaping.
		args = []string{"-name", "guest=" + s.Name + ",process=" + s.Name}
	}
	switch s.Accel {
	case AccelKVM:
		args = append(args, "-accel", "kvm", "-cpu", "host")
	default:
		accel := "tcg"
		if s.TBSizeMB > 0 {
			accel += ",tb-size=" + strconv.Itoa(s.TBSizeMB)
		}
		args = append(args, "-accel", accel, "-cpu", "max")
	}
	args = append(args,
		"-M", machineArg(s),
		"-m", strconv.FormatInt(s.MemoryMB, 10),
		"-smp", strconv.Itoa(s.CPUs),
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-kernel", s.Kernel,
		"-initrd", s.Initrd,
		"-append", kernelCmdline(s.TSCkHz, s.Extra),
		"-serial", serialArg(s),
		"-pidfile", s.PidFile,
		"-qmp", "unix:"+s.QMP+",server=on,wait=off",
	)
	args = append(args, memoryArgs(s)...)
	args = append(args, s.Template.args(s.Console)...)
	args = append(args, drive("image", s.Image, true, proto.DiskImage)...)
	args = append(args, drive("rw", s.RW, false, proto.DiskRW)...)
	args = append(args, drive("config", s.Config, true, proto.DiskConfig)...)
	args = append(args, volumeArgs(s.Volumes)...)
	args = append(args, shareArgs(s.Shares)...)
	args = append(args,
		"-device", "virtio-serial-device",
		"-chardev", "socket,id=ctl,path="+s.Ctl+",server=on,wait=off",
		"-device", "virtserialport,chardev=ctl,name="+proto.PortControl,
		"-chardev", "file,id=log,path="+s.Log+",append=on",
		"-device", "virtserialport,chardev=log,name="+proto.PortLog,
	)
	for i, n := range s.NICs {
		args = append(args,
			"-netdev", fmt.Sprintf("tap,id=n%d,fd=%d", i, 3+i),
			"-device", fmt.Sprintf("virtio-net-device,netdev=n%d,mac=%s", i, n.MAC),
		)
	}
	for i := 0; i < s.ShareSlots; i++ {
		args = append(args, "-device", fmt.Sprintf("pcie-root-port,id=%s,chassis=%d", shareSlotBus(i), i+1))
	}
	return args
}

func kernelCmdline(tscKHz int, extra []string) string {
	parts := []string{"console=ttyS0", "reboot=t", "panic=-1", "quiet"}
	if tscKHz > 0 {
		parts = append(parts, "tsc_early_khz="+strconv.Itoa(tscKHz))
	}
	parts = append(parts, "no_timer_check")
	parts = append(parts, extra...)
	return strings.Join(parts, " ")
}

func drive(id, file string, readonly bool, serial string) []string {
	ro := "off"
	if readonly {
		ro = "on"
	}
	return []string{
		"-drive", fmt.Sprintf("if=none,id=%s,file=%s,format=raw,readonly=%s", id, qemuEscape(file), ro),
		"-device", fmt.Sprintf("virtio-blk-device,drive=%s,serial=%s", id, serial),
	}
}

// qemuEscape doubles commas, QEMU's escape inside option values.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// safeVMName keeps a VM name QEMU can take as an option value: letters,
// digits, '_', '.', '-'; anything else becomes '-'.
func safeVMName(n string) string {
	b := []byte(n)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}
