package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBundleISOs: make bundle's vic-bundle.tar.gz carries the vSphere
// ISOs, each with ISOLINUX, the guest kernel and an initramfs, and
// El Torito bootable (BIOS, no emulation, boot info table), as xorriso
// reads them back; the bootstrap ISO's initramfs is the tether's, and it
// boots from a CD-ROM under QEMU's BIOS (SeaBIOS) through ISOLINUX to the
// tether as PID 1, which powers the VM off when it finds no guestinfo;
// then the ISO runs a container as a vSphere VM would
// (bootstrapISORunsAContainer).
func TestBundleISOs(t *testing.T) {
	dir := t.TempDir()
	tarball := bundleWithScript(t, filepath.Join(dir, "vic-bundle.tar.gz"))
	if out, err := exec.Command("tar", "-C", dir, "-xzf", tarball, "vic/bootstrap.iso", "vic/appliance.iso", "vic/tether").CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v\n%s", err, out)
	}
	want := "/ /initrd.img /isolinux /isolinux/boot.cat /isolinux/isolinux.bin /isolinux/isolinux.cfg /isolinux/ldlinux.c32 /vmlinuz"
	for _, name := range []string{"bootstrap.iso", "appliance.iso"} {
		iso := filepath.Join(dir, "vic", name)
		out, err := exec.Command("xorriso", "-indev", iso, "-find", "/").Output()
		if err != nil {
			t.Fatalf("xorriso -find %s: %v", name, err)
		}
		var files []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			files = append(files, strings.Trim(l, "'"))
		}
		if got := strings.Join(files, " "); got != want {
			t.Fatalf("%s holds %s, want %s", name, got, want)
		}
		report, err := exec.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
		if err != nil {
			t.Fatalf("xorriso -report_el_torito %s: %v\n%s", name, err, report)
		}
		for _, w := range []string{"El Torito img path :   1  /isolinux/isolinux.bin", "boot-info-table", "BIOS  y   none"} {
			if !strings.Contains(string(report), w) {
				t.Fatalf("%s: El Torito report lacks %q:\n%s", name, w, report)
			}
		}
		initrd := filepath.Join(dir, name+".initrd")
		if out, err := exec.Command("xorriso", "-indev", iso, "-osirrox", "on", "-extract", "/initrd.img", initrd).CombinedOutput(); err != nil {
			t.Fatalf("extract %s's initrd: %v\n%s", name, err, out)
		}
		list, err := exec.Command("sh", "-c", "cpio -it < "+initrd).Output()
		if err != nil {
			t.Fatalf("cpio -it %s: %v", name, err)
		}
		for _, f := range map[string][]string{"bootstrap.iso": {"init"}, "appliance.iso": {"init", "bin/vchd", "bin/vic-machine", "sbin/mke2fs", "bin/mkfs.ext4"}}[name] {
			if !strings.Contains("\n"+string(list), "\n"+f+"\n") {
				t.Fatalf("%s's initramfs lacks %s:\n%s", name, f, list)
			}
		}
	}
	// The bootstrap initramfs's /init is the bundle's tether.
	initDir := filepath.Join(dir, "init")
	if err := os.MkdirAll(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "cpio -id init < "+filepath.Join(dir, "bootstrap.iso.initrd"))
	cmd.Dir = initDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id init: %v\n%s", err, out)
	}
	a, errA := os.ReadFile(filepath.Join(initDir, "init"))
	b, errB := os.ReadFile(filepath.Join(dir, "vic", "tether"))
	if errA != nil || errB != nil || string(a) != string(b) {
		t.Fatalf("the bootstrap initramfs's /init is not the bundle's tether (%v, %v, %d vs %d bytes)", errA, errB, len(a), len(b))
	}

	// Boot it: a plain BIOS machine with the ISO as its CD-ROM; the
	// tether powers the guest off (-no-reboot: a reboot would end QEMU
	// too).
	serial := filepath.Join(dir, "serial.log")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	q := exec.CommandContext(ctx, "qemu-system-x86_64", "-m", "256", "-cdrom", filepath.Join(dir, "vic", "bootstrap.iso"),
		"-display", "none", "-monitor", "none", "-serial", "file:"+serial, "-no-reboot")
	if out, err := q.CombinedOutput(); err != nil {
		t.Fatalf("qemu with the bootstrap ISO: %v\n%s", err, out)
	}
	console, err := os.ReadFile(serial)
	if err != nil {
		t.Fatal(err)
	}
	// Without guestinfo the tether says so and powers the VM off.
	for _, w := range []string{"ISOLINUX ", "tether", "guestinfo", "reboot: Power down"} {
		if !strings.Contains(string(console), w) {
			t.Fatalf("the console lacks %q:\n%s", w, console)
		}
	}
	t.Logf("console of the ISO boot:\n%s", console)
	bootstrapISORunsAContainer(t, filepath.Join(dir, "vic", "bootstrap.iso"))
}
