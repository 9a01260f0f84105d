package vsdisk

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGuestDevice: in a sysfs tree laid out as the endpoint's kernel
// lays it out (an IDE host and the PVSCSI host), the disk at a unit is the
// block device under H:0:UNIT:0 of the PVSCSI host, in /dev; its release
// writes 1 to the SCSI device's delete. A VM with no PVSCSI host, or with
// two, is an error.
func TestGuestDevice(t *testing.T) {
	sys, dev := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(sys, "class/scsi_host/host0/proc_name"), "ata_piix\n")
	writeFile(t, filepath.Join(sys, "class/scsi_host/host2/proc_name"), "vmw_pvscsi\n")
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/0:0:3:0/block/sda/size"), "0")
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/2:0:3:0/block/sdb/size"), "0")
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/2:0:3:0/delete"), "")
	writeFile(t, filepath.Join(dev, "sdb"), "")
	g := LinuxGuest{Sys: sys, Dev: dev}
	path, release, err := g.Device(context.Background(), 3)
	if err != nil || path != filepath.Join(dev, "sdb") {
		t.Fatalf("Device: %q %v", path, err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(sys, "bus/scsi/devices/2:0:3:0/delete")); string(b) != "1" {
		t.Fatalf("delete got %q", b)
	}
	writeFile(t, filepath.Join(sys, "class/scsi_host/host3/proc_name"), "vmw_pvscsi\n")
	if _, _, err := g.Device(context.Background(), 3); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Fatalf("two PVSCSI hosts: %v", err)
	}
	g.Sys = t.TempDir()
	writeFile(t, filepath.Join(g.Sys, "class/scsi_host/host0/proc_name"), "ata_piix\n")
	if _, _, err := g.Device(context.Background(), 3); err == nil || !strings.Contains(err.Error(), "no vmw_pvscsi") {
		t.Fatalf("no PVSCSI host: %v", err)
	}
}
