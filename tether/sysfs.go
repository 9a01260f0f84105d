package tether

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
)

// findByName scans dirs under sysDir (e.g. /sys/block/vd*) and returns, for
// each entry whose attr file (serial, name) holds one of the wanted values,
// the entry's name.
func findByName(pattern, attr string) (map[string]string, error) {
	entries, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(e, attr))
		if err != nil {
			continue
		}
		out[strings.TrimSpace(string(b))] = filepath.Base(e)
	}
	return out, nil
}

// waitFor polls find until it reports every wanted value or timeout passes;
// it returns what it found last. Devices appear asynchronously after module
// load (virtio-serial ports are announced by the host).
func waitFor(find func() (map[string]string, error), want []string, timeout time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		got, err := find()
		if err != nil {
			return nil, err
		}
		missing := ""
		for _, w := range want {
			if _, ok := got[w]; !ok {
				missing = w
				break
			}
		}
		if missing == "" {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("device %q did not appear within %v: %w", missing, timeout, errdefs.ErrNotFound)
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// devNode returns /dev/<name>, creating the node from sysDir/dev
// ("major:minor") if devtmpfs has not made it yet.
func devNode(sysDir, name string, mode uint32) (string, error) {
	p := "/dev/" + name
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	b, err := os.ReadFile(filepath.Join(sysDir, "dev"))
	if err != nil {
		return "", fmt.Errorf("device %s: %w", name, err)
	}
	maj, min, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		return "", fmt.Errorf("device %s: bad dev %q", name, b)
	}
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return "", fmt.Errorf("device %s: %w", name, err)
	}
	err = unix.Mknod(p, mode|0o600, int(unix.Mkdev(uint32(ma), uint32(mi))))
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("mknod %s: %w", p, err)
	}
	return p, nil
}

// openPort opens a virtio-serial port by name in blocking mode (not through
// the Go poller: a port reads EOF while the host is away and writes block
// until it is back).
func openPort(dev string) (*os.File, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dev, err)
	}
	return os.NewFile(uintptr(fd), dev), nil
}

// virtioFSDevice is virtio-fs's device ID (virtio 1.1, 5.11).
const virtioFSDevice = "0x001a"

// virtioDevices is where the virtio bus lists its devices.
var virtioDevices = "/sys/bus/virtio/devices"

// findVirtioFS lists the virtio-fs devices that a driver has bound, as
// virtiofs-0, virtiofs-1, ... (the guest kernel does not show a device's
// tag in sysfs; a VM's shares are all its virtio-fs devices).
func findVirtioFS() (map[string]string, error) {
	entries, err := filepath.Glob(filepath.Join(virtioDevices, "virtio*"))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(e, "device"))
		if err != nil || strings.TrimSpace(string(b)) != virtioFSDevice {
			continue
		}
		if _, err := os.Lstat(filepath.Join(e, "driver")); err != nil {
			continue
		}
		out[fmt.Sprintf("virtiofs-%d", len(out))] = filepath.Base(e)
	}
	return out, nil
}

// virtioFSWant is what waitFor needs of findVirtioFS for n shares.
func virtioFSWant(n int) []string {
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("virtiofs-%d", i)
	}
	return want
}

// pciDevices is where the PCI bus lists its functions.
var pciDevices = "/sys/bus/pci/devices"

// pciRescan makes the kernel scan every PCI bus for new functions.
var pciRescan = "/sys/bus/pci/rescan"

// PCI configuration space offsets (PCI Local Bus 3.0, PCIe Base 4.0 7.5.3).
const (
	pciCapList       = 0x34   // first capability pointer
	pciCapExp        = 0x10   // PCI Express capability ID
	pciExpFlags      = 0x02   // PCIe capabilities register (in the capability)
	pciExpFlagsSlot  = 0x0100 // slot implemented
	pciExpSltCtl     = 0x18   // slot control (in the capability)
	pciExpSltCtlPCC  = 0x0400 // power controller control: 1 = off
	pciExpSltCtlPIC  = 0x0300 // power indicator control
	pciExpSltCtlPIOn = 0x0100
)

// powerOnSlots turns on the power of every PCIe slot that has it off.
// QEMU powers an empty hotplug slot off at reset and shows a function
// plugged into it only once the slot is on; the guest has no PCIe hotplug
// driver that would turn it on (no _OSC grant on microvm), so the tether
// does what that driver would. It returns how many slots it turned on.
func powerOnSlots() (int, error) {
	entries, err := os.ReadDir(pciDevices)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil // no PCI bus
		}
		return 0, err
	}
	n := 0
	for _, e := range entries {
		on, err := powerOnSlot(filepath.Join(pciDevices, e.Name(), "config"))
		if err != nil {
			return n, fmt.Errorf("pci %s: %w", e.Name(), err)
		}
		if on {
			n++
		}
	}
	return n, nil
}

// powerOnSlot clears the power-off bit of the slot of one function's
// configuration space, if it has a PCIe slot that is off.
func powerOnSlot(config string) (bool, error) {
	f, err := os.OpenFile(config, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	cfg := make([]byte, 256)
	if n, err := f.ReadAt(cfg, 0); n < 64 {
		return false, fmt.Errorf("read config space: %d bytes: %w", n, err)
	}
	// Walk the capability list (bounded: a list is at most 48 entries).
	at := int(cfg[pciCapList]) &^ 3
	for i := 0; i < 48 && at >= 0x40 && at+pciExpSltCtl+2 <= len(cfg); i++ {
		if cfg[at] == pciCapExp {
			if binary.LittleEndian.Uint16(cfg[at+pciExpFlags:])&pciExpFlagsSlot == 0 {
				return false, nil
			}
			ctl := binary.LittleEndian.Uint16(cfg[at+pciExpSltCtl:])
			if ctl&pciExpSltCtlPCC == 0 {
				return false, nil
			}
			ctl = ctl&^(pciExpSltCtlPCC|pciExpSltCtlPIC) | pciExpSltCtlPIOn
			b := binary.LittleEndian.AppendUint16(nil, ctl)
			if _, err := f.WriteAt(b, int64(at+pciExpSltCtl)); err != nil {
				return false, fmt.Errorf("slot control: %w", err)
			}
			return true, nil
		}
		at = int(cfg[at+1]) &^ 3
	}
	return false, nil
}

// rescanPCI powers the PCIe slots on and asks for a PCI rescan; a VM
// without a PCI bus has neither, and then there is nothing to find.
func rescanPCI(log *zap.Logger) {
	n, err := powerOnSlots()
	if err != nil {
		log.Warn("pci slot power", zap.Error(err))
	}
	if err := os.WriteFile(pciRescan, []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("pci rescan", zap.Error(err))
	}
	log.Debug("pci rescan", zap.Int("slotsPoweredOn", n))
}
