package tether

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/guestos"
	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
)

// A vSphere container VM that booted the bootstrap ISO (proto.VSphereFlag
// on its command line): on ESXi, or under a QEMU standing in for it
// (vsimtest.QEMUHost). The tether is PID 1 of the initramfs, as in a QEMU
// container VM, and brings the VM up itself: the kernel's file systems,
// the drivers (PVSCSI, SCSI disks, vmxnet3, fw_cfg), guestinfo (the
// VMware backdoor, or fw_cfg), the container's root (its writable layer
// disk, a child of the image's top layer, which holds the image's
// flattened file system) and volumes (their disks) from the SCSI units
// guestinfo.vch.disks names, the NICs by MAC, and the log and control
// ports on serial ttys.

// scsiDriver is the SCSI host driver of the VM's disk controller.
const scsiDriver = "vmw_pvscsi"

// sysBlock and sysSCSIHost are where the kernel lists disks and SCSI
// hosts (variables for the tests).
var (
	sysBlock    = "/sys/block"
	sysSCSIHost = "/sys/class/scsi_host"
)

// bootedVSphere reports proto.VSphereFlag on the kernel command line.
// /proc is not mounted yet at PID 1's start: it is mounted for the read
// and unmounted again (mountEarly mounts it for good).
func bootedVSphere() bool {
	if _, err := os.Stat("/proc/cmdline"); err != nil {
		if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return false
		}
		defer unix.Unmount("/proc", 0)
	}
	return cmdlineFlag(proto.VSphereFlag)
}

// runVSphereVM is the tether's main in a booted vSphere VM. It never
// returns.
func runVSphereVM(t *tether) {
	fatal := func(what string, err error) {
		t.log.Error(what, zap.Error(err))
		guestos.PowerOff(t.log)
	}
	if err := mountEarly(); err != nil {
		fatal("mounts", err)
	}
	if debugCmdline() {
		t.level.SetLevel(zap.DebugLevel)
	}
	t.log.Debug("tether started as a vSphere VM", zap.Duration("sinceBoot", sinceBoot()))
	t.reaper = newReaper()
	order, err := moduleOrder()
	if err == nil {
		err = loadModules(order, t.log)
	}
	if err != nil {
		fatal("modules", err)
	}
	src, err := guestinfo.ForVM(guestinfo.FwCfgPath)
	if err != nil {
		fatal("guestinfo", err)
	}
	units, err := readDiskUnits(src)
	if err != nil {
		fatal("guestinfo", err)
	}
	runVSphere(t, src, vsphereBoot{
		root: rootMount,
		link: func(_, id, token string) (vsphereLink, error) { return openTTYLink(id, token, t.log) },
		mount: func(maintenance bool) error {
			return t.mountVSphereDisks(units, maintenance)
		},
		applyNICs:   setupNetwork,
		nicRequests: true,
		powerOff:    func(int) { guestos.PowerOff(t.log) },
	})
}

// readDiskUnits reads guestinfo.vch.disks: disk key -> SCSI unit.
func readDiskUnits(src guestinfo.Source) (map[string]int, error) {
	raw, err := src.Get(proto.GuestinfoDisks)
	if errors.Is(err, guestinfo.ErrNotSet) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, err
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", proto.GuestinfoDisks, err)
	}
	var units map[string]int
	if err := json.Unmarshal(b, &units); err != nil {
		return nil, fmt.Errorf("%s: %w", proto.GuestinfoDisks, err)
	}
	return units, nil
}

// scsiDisks maps the SCSI target (unit) of each disk on the first
// controller driven by scsiDriver to its block device name ("sda"). The
// first controller is the one with the lowest host number.
func scsiDisks() (map[int]string, error) {
	hosts, err := filepath.Glob(filepath.Join(sysSCSIHost, "host*"))
	if err != nil {
		return nil, err
	}
	first := -1
	for _, h := range hosts {
		b, err := os.ReadFile(filepath.Join(h, "proc_name"))
		if err != nil || strings.TrimSpace(string(b)) != scsiDriver {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(h), "host"))
		if err == nil && (first < 0 || n < first) {
			first = n
		}
	}
	out := map[int]string{}
	if first < 0 {
		return out, nil
	}
	disks, err := filepath.Glob(filepath.Join(sysBlock, "sd*"))
	if err != nil {
		return nil, err
	}
	for _, d := range disks {
		dev, err := os.Readlink(filepath.Join(d, "device"))
		if err != nil {
			continue
		}
		// .../target0:0:1/0:0:1:0: host:channel:target:lun
		f := strings.Split(filepath.Base(dev), ":")
		if len(f) != 4 {
			continue
		}
		h, err1 := strconv.Atoi(f[0])
		tgt, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || h != first || f[1] != "0" || f[3] != "0" {
			continue
		}
		out[tgt] = filepath.Base(d)
	}
	return out, nil
}

// waitSCSIDisks waits until every unit in units has a block device (the
// SCSI scan runs after the driver loads).
func waitSCSIDisks(units map[string]int, timeout time.Duration) (map[string]string, error) {
	want := make([]string, 0, len(units))
	for k := range units {
		want = append(want, k)
	}
	sort.Strings(want)
	return waitFor(func() (map[string]string, error) {
		byUnit, err := scsiDisks()
		if err != nil {
			return nil, err
		}
		got := map[string]string{}
		for k, u := range units {
			if name, ok := byUnit[u]; ok {
				got[k] = name
			}
		}
		return got, nil
	}, want, timeout)
}

// mountVSphereDisks mounts the container's root disk at rootMount, the
// kernel's file systems inside it (not for a maintenance boot), and the
// volumes' disks and tmpfs mounts.
func (t *tether) mountVSphereDisks(units map[string]int, maintenance bool) error {
	if _, ok := units[proto.DiskRootKey]; !ok {
		return fmt.Errorf("%s names no root disk: %w", proto.GuestinfoDisks, errdefs.ErrNotFound)
	}
	names, err := waitSCSIDisks(units, deviceTimeout)
	if err != nil {
		return fmt.Errorf("SCSI disks: %w", err)
	}
	dev := func(key string) (string, error) {
		name, ok := names[key]
		if !ok {
			return "", nil
		}
		return devNode(filepath.Join(sysBlock, name), name, unix.S_IFBLK)
	}
	root, err := dev(proto.DiskRootKey)
	if err != nil {
		return err
	}
	if err := t.mounts.mount(root, rootMount, "ext4", unix.MS_NOATIME, ""); err != nil {
		return err
	}
	t.log.Debug("root mounted", zap.String("disk", root))
	if !maintenance {
		if err := mountInRoot(&t.mounts, rootMount); err != nil {
			return err
		}
	}
	formatted := map[string]bool{}
	volDev := func(key string) (string, error) {
		d, err := dev(key)
		if err != nil || d == "" || formatted[key] {
			return d, err
		}
		if err := prepareVolumeDisk(d, key, t.log); err != nil {
			return "", err
		}
		formatted[key] = true
		return d, nil
	}
	return mountVolumes(&t.mounts, rootMount, t.cfg, volDev)
}

// blankCheck is how much of a disk must be zero for it to count as blank.
const blankCheck = 1 << 20

// prepareVolumeDisk makes an ext4 file system on a volume's disk when it
// is blank: a new volume's VMDK, as vSphere's VirtualDiskManager makes
// it, holds nothing. A disk with an ext4 superblock is used as it is; a
// disk that is neither is refused, never formatted.
func prepareVolumeDisk(dev, name string, log *zap.Logger) error {
	f, err := os.Open(dev)
	if err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	b := make([]byte, blankCheck)
	n, err := io.ReadFull(f, b)
	f.Close()
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("volume %s: read %s: %w", name, dev, err)
	}
	b = b[:n]
	// The ext2/3/4 superblock starts at 1024; its magic 0xEF53 is at 56.
	if len(b) >= 1082 && b[1080] == 0x53 && b[1081] == 0xef {
		return nil
	}
	for _, c := range b {
		if c != 0 {
			return fmt.Errorf("volume %s: disk %s holds no ext4 file system and is not blank: not formatted: %w", name, dev, errdefs.ErrFailedPrecondition)
		}
	}
	label := name
	if len(label) > 16 {
		label = label[:16]
	}
	start := time.Now()
	out, err := exec.Command(proto.VSphereMkfs, "-q", "-t", "ext4", "-F", "-L", label, dev).CombinedOutput()
	if err != nil {
		return fmt.Errorf("volume %s: make a file system on %s: %w: %s", name, dev, err, strings.TrimSpace(string(out)))
	}
	log.Debug("volume disk formatted", zap.String("volume", name), zap.String("disk", dev), zap.Duration("took", time.Since(start)))
	return nil
}
