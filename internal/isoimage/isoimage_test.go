package isoimage_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/internal/isoimage"
)

// xorriso reads the image back: the file list, and an El Torito BIOS
// no-emulation entry for isolinux.bin with a boot info table.
func TestWriteBootable(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	initrd := filepath.Join(dir, "initrd")
	extra := filepath.Join(dir, "extra")
	for f, body := range map[string]string{kernel: "kernel", initrd: strings.Repeat("i", 5000), extra: "x"} {
		if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "t.iso")
	err := isoimage.Write(out, isoimage.Spec{Label: "VCH_TEST", Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0",
		Files: map[string]string{"/vch/extra.txt": extra}})
	if err != nil {
		t.Fatal(err)
	}
	files := isoFind(t, out)
	want := "/ /initrd.img /isolinux /isolinux/boot.cat /isolinux/isolinux.bin /isolinux/isolinux.cfg /isolinux/ldlinux.c32 /vch /vch/extra.txt /vmlinuz"
	if strings.Join(files, " ") != want {
		t.Fatalf("files %v, want %s", files, want)
	}
	report := elTorito(t, out)
	for _, w := range []string{"El Torito img path :   1  /isolinux/isolinux.bin", "boot-info-table", "BIOS  y   none"} {
		if !strings.Contains(report, w) {
			t.Fatalf("El Torito report lacks %q:\n%s", w, report)
		}
	}
	cfg, err := exec.Command("xorriso", "-indev", out, "-osirrox", "on", "-extract", "/isolinux/isolinux.cfg", filepath.Join(dir, "cfg")).CombinedOutput()
	if err != nil {
		t.Fatalf("extract: %v\n%s", err, cfg)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cfg")); !strings.Contains(string(b), "APPEND console=ttyS0") || !strings.Contains(string(b), "KERNEL /vmlinuz") {
		t.Fatalf("isolinux.cfg %q", b)
	}
	if err := isoimage.Write(filepath.Join(dir, "u.iso"), isoimage.Spec{Kernel: filepath.Join(dir, "nope"), Initrd: initrd}); err == nil {
		t.Fatal("a missing kernel was accepted")
	}
}

// isoFind lists an image's files with xorriso -find.
func isoFind(t *testing.T, iso string) []string {
	t.Helper()
	out, err := exec.Command("xorriso", "-indev", iso, "-find", "/").Output()
	if err != nil {
		t.Fatalf("xorriso -find: %v", err)
	}
	var files []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		files = append(files, strings.Trim(l, "'"))
	}
	return files
}

func elTorito(t *testing.T, iso string) string {
	t.Helper()
	out, err := exec.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -report_el_torito: %v\n%s", err, out)
	}
	return string(out)
}
