package tether

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseGo(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
		ns   int64
	}{
		{"go 1764500000000000000", true, 1764500000000000000},
		{"  go 5  ", true, 5},
		{"go", false, 0},
		{"go x", false, 0},
		{"go -3", false, 0},
		{"vch-template-ready", false, 0},
		{"go 1 2", false, 0},
	} {
		g, ok := parseGo(tc.line)
		if ok != tc.ok || g.hostUnixNano != tc.ns {
			t.Errorf("%q: got %+v %v, want %d %v", tc.line, g, ok, tc.ns, tc.ok)
		}
	}
	g := goSignal{hostUnixNano: 1000, atBoot: 3 * time.Second}
	if got := g.clock(3*time.Second + 250); got != 1250 {
		t.Fatalf("clock %d, want 1250", got)
	}
}

// TestHoldReleaseProbes runs the template's probe hold and the clone's
// release on a fake sysfs: autoprobe goes off then on, a bus the guest
// lacks is skipped, and only the device without a driver is offered.
func TestHoldReleaseProbes(t *testing.T) {
	root := t.TempDir()
	bus := filepath.Join(root, "platform")
	for _, d := range []string{"devices/LNRO0005:00", "devices/serial8250", "drivers/serial"} {
		if err := os.MkdirAll(filepath.Join(bus, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../../drivers/serial", filepath.Join(bus, "devices/serial8250/driver")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"drivers_autoprobe", "drivers_probe"} {
		if err := os.WriteFile(filepath.Join(bus, f), []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	buses := []string{bus, filepath.Join(root, "pci")}
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(bus, f))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := holdProbes(buses); err != nil {
		t.Fatal(err)
	}
	if got := read("drivers_autoprobe"); got != "0" {
		t.Fatalf("autoprobe after hold = %q, want 0", got)
	}
	n, err := releaseProbes(buses)
	if err != nil {
		t.Fatal(err)
	}
	if got := read("drivers_autoprobe"); got != "1" {
		t.Fatalf("autoprobe after release = %q, want 1", got)
	}
	if n != 1 || read("drivers_probe") != "LNRO0005:00" {
		t.Fatalf("offered %d devices, last %q; want 1, LNRO0005:00", n, read("drivers_probe"))
	}
}

// findVirtioFS counts the virtio-fs devices a driver has bound, and
// nothing else on the virtio bus.
func TestFindVirtioFS(t *testing.T) {
	dir := t.TempDir()
	old := virtioDevices
	virtioDevices = dir
	t.Cleanup(func() { virtioDevices = old })
	dev := func(name, id string, bound bool) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "device"), []byte(id+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if bound {
			if err := os.Symlink("../../drivers/x", filepath.Join(d, "driver")); err != nil {
				t.Fatal(err)
			}
		}
	}
	dev("virtio0", "0x0002", true)  // a disk
	dev("virtio1", "0x001a", true)  // a bound share
	dev("virtio2", "0x001a", false) // a share whose driver is not there yet
	got, err := findVirtioFS()
	if err != nil || len(got) != 1 || got["virtiofs-0"] != "virtio1" {
		t.Fatalf("findVirtioFS = %v, %v", got, err)
	}
	if _, err := waitFor(findVirtioFS, virtioFSWant(2), 20*time.Millisecond); err == nil {
		t.Fatal("waitFor found two bound shares where one is")
	}
	if err := os.Symlink("../../drivers/x", filepath.Join(dir, "virtio2", "driver")); err != nil {
		t.Fatal(err)
	}
	if _, err := waitFor(findVirtioFS, virtioFSWant(2), time.Second); err != nil {
		t.Fatal(err)
	}
}

// powerOnSlot clears a PCIe slot's power-off bit (and lights its power
// indicator), and leaves functions without a slot, or with power on, as
// they are.
func TestPowerOnSlot(t *testing.T) {
	mk := func(slot bool, ctl uint16) string {
		cfg := make([]byte, 256)
		cfg[0x34] = 0x40
		cfg[0x40], cfg[0x41] = 0x05, 0x50 // MSI, next at 0x50
		cfg[0x50], cfg[0x51] = 0x10, 0x00 // PCI Express, last
		if slot {
			binary.LittleEndian.PutUint16(cfg[0x52:], 0x0142)
		}
		binary.LittleEndian.PutUint16(cfg[0x50+0x18:], ctl)
		p := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(p, cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctlOf := func(p string) uint16 {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint16(b[0x50+0x18:])
	}
	off := mk(true, 0x07f8) // hotplug interrupts on, indicators off, power off
	if on, err := powerOnSlot(off); err != nil || !on {
		t.Fatalf("powered off slot: %v, %v", on, err)
	}
	if got := ctlOf(off); got != 0x01f8 {
		t.Fatalf("slot control %#04x, want %#04x", got, 0x01f8)
	}
	for name, p := range map[string]string{"already on": mk(true, 0x01f8), "no slot": mk(false, 0x0400)} {
		before := ctlOf(p)
		if on, err := powerOnSlot(p); err != nil || on || ctlOf(p) != before {
			t.Fatalf("%s: %v, %v, control %#04x", name, on, err, ctlOf(p))
		}
	}
}
