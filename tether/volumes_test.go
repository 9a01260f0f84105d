package tether

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestTmpfsOptions(t *testing.T) {
	for _, tc := range []struct {
		in    string
		flags uintptr
		data  string
	}{
		{"", unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV, ""},
		{"size=64m", unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV, "size=64m"},
		{"ro,exec,mode=1777,size=1m", unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV, "mode=1777,size=1m"},
		{"rw,suid,dev,noatime", unix.MS_NOEXEC | unix.MS_NOATIME, ""},
	} {
		f, d := tmpfsOptions(tc.in)
		if f != tc.flags || d != tc.data {
			t.Errorf("tmpfsOptions(%q) = %#x %q, want %#x %q", tc.in, f, d, tc.flags, tc.data)
		}
	}
}

func TestCopyTreeAndEmptyVolume(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if empty, err := isEmptyVolume(dst); err != nil || !empty {
		t.Fatalf("empty dir: %v %v", empty, err)
	}
	if err := os.Mkdir(filepath.Join(dst, "lost+found"), 0o700); err != nil {
		t.Fatal(err)
	}
	if empty, _ := isEmptyVolume(dst); !empty {
		t.Fatal("an empty lost+found makes a volume non-empty")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "d/e"), 0o750))
	must(os.WriteFile(filepath.Join(src, "d/e/f"), []byte("data"), 0o640))
	must(os.Symlink("d/e/f", filepath.Join(src, "link")))
	must(copyTree(src, dst))
	b, err := os.ReadFile(filepath.Join(dst, "d/e/f"))
	if err != nil || string(b) != "data" {
		t.Fatalf("copied file: %q %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(dst, "d/e/f"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(filepath.Join(dst, "d")); di.Mode().Perm() != 0o750 {
		t.Fatalf("dir mode %v", di.Mode())
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "d/e/f" {
		t.Fatalf("symlink: %q %v", l, err)
	}
	if empty, _ := isEmptyVolume(dst); empty {
		t.Fatal("filled volume reported empty")
	}
	// A missing source (the image has nothing at the path) copies nothing.
	must(copyTree(filepath.Join(src, "none"), t.TempDir()))
}
