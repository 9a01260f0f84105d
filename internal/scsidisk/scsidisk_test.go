package scsidisk

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

// TestDevice: in a sysfs tree laid out as the endpoint's kernel lays it
// out (an IDE host and the PVSCSI host), the disk at a unit is the block
// device under H:0:UNIT:0 of the PVSCSI host, not the IDE host's at the
// same target; its release deletes the SCSI device; a unit with no disk
// is an error once the wait is over.
func TestDevice(t *testing.T) {
	sys, dev := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(sys, "class/scsi_host/host0/proc_name"), "ata_piix\n")
	writeFile(t, filepath.Join(sys, "class/scsi_host/host2/proc_name"), "vmw_pvscsi\n")
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/0:0:0:0/block/sda/size"), "0")
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/2:0:0:0/block/sdb/size"), "0")
	writeFile(t, filepath.Join(dev, "sda"), "")
	writeFile(t, filepath.Join(dev, "sdb"), "")
	p := PVSCSI{Sys: sys, Dev: dev}
	if h, err := p.Host(); err != nil || h != 2 {
		t.Fatalf("Host: %d %v", h, err)
	}
	path, release, err := p.Device(context.Background(), 0, 0)
	if err != nil || path != filepath.Join(dev, "sdb") {
		t.Fatalf("Device at unit 0: %q %v", path, err)
	}
	writeFile(t, filepath.Join(sys, "bus/scsi/devices/2:0:0:0/delete"), "")
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(sys, "bus/scsi/devices/2:0:0:0/delete")); string(b) != "1" {
		t.Fatalf("release wrote %q to the SCSI device's delete", b)
	}
	if _, _, err := p.Device(context.Background(), 1, 0); err == nil || !strings.Contains(err.Error(), "no block device at SCSI 2:0:1:0") {
		t.Fatalf("Device at unit 1 (none): %v", err)
	}
}

// TestHostErrors: no PVSCSI host, or two, is an error, not a guess.
func TestHostErrors(t *testing.T) {
	sys := t.TempDir()
	writeFile(t, filepath.Join(sys, "class/scsi_host/host0/proc_name"), "ata_piix\n")
	p := PVSCSI{Sys: sys}
	if _, err := p.Host(); err == nil || !strings.Contains(err.Error(), "no vmw_pvscsi SCSI host") {
		t.Fatalf("no PVSCSI host: %v", err)
	}
	writeFile(t, filepath.Join(sys, "class/scsi_host/host2/proc_name"), "vmw_pvscsi\n")
	writeFile(t, filepath.Join(sys, "class/scsi_host/host3/proc_name"), "vmw_pvscsi\n")
	if _, err := p.Host(); err == nil || !strings.Contains(err.Error(), "more than one vmw_pvscsi SCSI host") {
		t.Fatalf("two PVSCSI hosts: %v", err)
	}
}
