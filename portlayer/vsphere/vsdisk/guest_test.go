package vsdisk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestGuestDevice: LinuxGuest finds a layer disk in its own sysfs and
// devtmpfs trees (internal/scsidisk's tests cover the lookup itself).
func TestGuestDevice(t *testing.T) {
	g := LinuxGuest{Sys: t.TempDir(), Dev: t.TempDir()}
	for p, data := range map[string]string{
		filepath.Join(g.Sys, "class/scsi_host/host2/proc_name"):         "vmw_pvscsi\n",
		filepath.Join(g.Sys, "bus/scsi/devices/2:0:3:0/block/sdb/size"): "0",
		filepath.Join(g.Dev, "sdb"):                                     "",
	} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if path, _, err := g.Device(context.Background(), 3); err != nil || path != filepath.Join(g.Dev, "sdb") {
		t.Fatalf("Device: %q %v", path, err)
	}
}
