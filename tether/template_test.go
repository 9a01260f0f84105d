package tether

import (
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
