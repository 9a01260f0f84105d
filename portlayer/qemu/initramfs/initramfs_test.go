package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/qemu/kernel"
)

// fakeInputs writes a fake tether and two fake modules (odd sizes, to
// exercise the padding) into a temp dir.
func fakeInputs(t *testing.T) (string, []kernel.Module) {
	dir := t.TempDir()
	tether := filepath.Join(dir, "tether")
	if err := os.WriteFile(tether, []byte("#!tether\x00binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var mods []kernel.Module
	for i, name := range []string{"virtio_ring", "virtio-x"} {
		p := filepath.Join(dir, name+".ko")
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte('a' + i)}, 1001+i), 0o644); err != nil {
			t.Fatal(err)
		}
		mods = append(mods, kernel.Module{Name: name, Path: p})
	}
	return tether, mods
}

// TestBuildReadBack checks the archive with GNU cpio: the listing, and the
// extracted files' content, modes and device numbers.
func TestBuildReadBack(t *testing.T) {
	tether, mods := fakeInputs(t)
	var buf bytes.Buffer
	if err := Build(&buf, tether, mods, nil); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", buf.Len())
	}
	list := exec.Command("cpio", "-it", "--quiet")
	list.Stdin = bytes.NewReader(buf.Bytes())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	names := strings.Fields(string(out))
	for _, want := range []string{"init", "dev/console", "dev/null", "proc", "sys", "mnt/root", "mnt/image", "mnt/rw",
		"lib/modules/virtio_ring.ko", "lib/modules/virtio-x.ko", "lib/modules/modules.order"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("archive lacks %s: %v", want, names)
		}
	}

	dest := t.TempDir()
	extract := exec.Command("cpio", "-id", "--quiet", "--no-absolute-filenames")
	extract.Dir = dest
	extract.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	check := func(name string, want []byte, perm os.FileMode) {
		t.Helper()
		p := filepath.Join(dest, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (%d bytes, want %d)", name, len(got), len(want))
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != perm {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), perm)
		}
	}
	tb, _ := os.ReadFile(tether)
	check("init", tb, 0o755)
	for _, m := range mods {
		mb, _ := os.ReadFile(m.Path)
		check("lib/modules/"+m.FileName(), mb, 0o644)
	}
	check("lib/modules/modules.order", []byte("virtio_ring.ko\nvirtio-x.ko\n"), 0o644)
	st, err := os.Stat(filepath.Join(dest, "dev/console"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("dev/console is %v, want a character device", st.Mode())
	}
}

func TestNewcSymlinkAndTrailer(t *testing.T) {
	var buf bytes.Buffer
	c := &newcWriter{w: &buf}
	c.Dir("bin", 0o755)
	c.Symlink("bin/sh", "busybox")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, []byte("070701")) || !bytes.Contains(b, []byte("TRAILER!!!\x00")) {
		t.Fatalf("not a newc archive: %q", b)
	}
	list := exec.Command("cpio", "-itv", "--quiet")
	list.Stdin = bytes.NewReader(b)
	out, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	if !strings.Contains(string(out), "bin/sh -> busybox") {
		t.Fatalf("listing: %s", out)
	}
}

// TestEnsureCaches checks that Ensure builds once per content and keys the
// cache by content.
func TestEnsureCaches(t *testing.T) {
	kdir := kernel.DefaultDir()
	if _, err := kernel.Find(kdir); err != nil {
		t.Fatalf("%v (fetch it: scripts/fetch-kernel.sh %s)", err, kdir)
	}
	tether, _ := fakeInputs(t)
	cache := t.TempDir()
	p1, err := Ensure(cache, tether, kdir)
	if err != nil {
		t.Fatal(err)
	}
	st1, err := os.Stat(p1)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Ensure(cache, tether, kdir)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(p2)
	if p1 != p2 || !os.SameFile(st1, st2) || !st1.ModTime().Equal(st2.ModTime()) {
		t.Fatalf("second Ensure rebuilt: %s %s", p1, p2)
	}
	if err := os.WriteFile(tether, []byte("another tether"), 0o755); err != nil {
		t.Fatal(err)
	}
	p3, err := Ensure(cache, tether, kdir)
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 {
		t.Fatal("changed tether, same cache entry")
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 {
		t.Fatalf("cache holds %d entries, want 2 (no temp files left)", len(entries))
	}
	list := exec.Command("cpio", "-it", "--quiet")
	f, _ := os.Open(p3)
	defer f.Close()
	list.Stdin = f
	out, err := list.Output()
	if err != nil || !strings.Contains(string(out), "lib/modules/virtio_blk.ko") || !strings.Contains(string(out), "lib/modules/overlay.ko") {
		t.Fatalf("cached archive listing: %v\n%s", err, out)
	}
}
