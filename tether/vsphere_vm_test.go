package tether

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
)

// TestSCSIDisks finds disks by SCSI target on the first PVSCSI host, in a
// sysfs tree laid out as the kernel's: another driver's host and LUNs
// other than 0 are not the VM's disks.
func TestSCSIDisks(t *testing.T) {
	dir := t.TempDir()
	oldBlock, oldHost := sysBlock, sysSCSIHost
	sysBlock, sysSCSIHost = filepath.Join(dir, "block"), filepath.Join(dir, "scsi_host")
	t.Cleanup(func() { sysBlock, sysSCSIHost = oldBlock, oldHost })
	host := func(n, driver string) {
		p := filepath.Join(sysSCSIHost, "host"+n)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "proc_name"), []byte(driver+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk := func(name, addr string) {
		p := filepath.Join(sysBlock, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		target := "../../devices/pci0000:00/0000:00:10.0/host/target/" + addr
		if err := os.Symlink(target, filepath.Join(p, "device")); err != nil {
			t.Fatal(err)
		}
	}
	host("0", "ata_piix")
	host("2", scsiDriver)
	host("3", scsiDriver)
	disk("sda", "0:0:0:0") // the IDE host's
	disk("sdb", "2:0:1:0")
	disk("sdc", "2:0:0:0")
	disk("sdd", "2:0:3:1") // LUN 1
	disk("sde", "3:0:2:0") // the second controller
	got, err := scsiDisks()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "sdc" || got[1] != "sdb" {
		t.Fatalf("disks by unit: %v", got)
	}
	names, err := waitSCSIDisks(map[string]int{proto.DiskRootKey: 1, "data": 0}, 0)
	if err != nil || names[proto.DiskRootKey] != "sdb" || names["data"] != "sdc" {
		t.Fatalf("wait: %v %v", names, err)
	}
	if _, err := waitSCSIDisks(map[string]int{"gone": 2}, 0); err == nil {
		t.Fatal("a missing unit was found")
	}
}

func TestReadDiskUnits(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString([]byte(`{"/":1,"data":2}`))
	units, err := readDiskUnits(guestinfo.FwCfg{proto.GuestinfoDisks: enc})
	if err != nil || len(units) != 2 || units[proto.DiskRootKey] != 1 || units["data"] != 2 {
		t.Fatalf("units %v %v", units, err)
	}
	if units, err := readDiskUnits(guestinfo.FwCfg{}); err != nil || len(units) != 0 {
		t.Fatalf("no key: %v %v", units, err)
	}
	if _, err := readDiskUnits(guestinfo.FwCfg{proto.GuestinfoDisks: "!!"}); err == nil {
		t.Fatal("bad base64 read")
	}
}
