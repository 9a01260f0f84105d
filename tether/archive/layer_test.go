package archive

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func tarList(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, h.Name+"="+string(body))
	}
}

func TestLayerWhiteoutsAndOpaque(t *testing.T) {
	upper := t.TempDir()
	for _, d := range []string{"etc", "var/spool", "bin"} {
		os.MkdirAll(filepath.Join(upper, d), 0o755)
	}
	os.WriteFile(filepath.Join(upper, "etc/hosts"), []byte("hidden"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc/motd"), []byte("hi"), 0o644)
	os.WriteFile(filepath.Join(upper, "var/spool/only"), []byte("x"), 0o644)
	if err := unix.Mknod(filepath.Join(upper, "bin/sh"), unix.S_IFCHR, 0); err != nil {
		t.Fatalf("mknod a whiteout (needs root, as the tether has): %v", err)
	}
	if err := unix.Lsetxattr(filepath.Join(upper, "var/spool"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatalf("set the opaque xattr (needs root, as the tether has): %v", err)
	}
	var buf bytes.Buffer
	if err := Layer(upper, []string{"/etc/hosts"}, &buf); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tarList(t, buf.Bytes()), ",")
	want := "bin/=,bin/.wh.sh=,etc/=,etc/motd=hi,var/=,var/spool/=,var/spool/.wh..wh..opq=,var/spool/only=x"
	if got != want {
		t.Fatalf("layer %s\nwant  %s", got, want)
	}
}

func TestExportSkipsKernelDirs(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc/1"), 0o755)
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/motd"), []byte("hi"), 0o644)
	os.Symlink("/etc/motd", filepath.Join(root, "motd"))
	var buf bytes.Buffer
	if err := Export(root, []string{"/proc"}, &buf); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tarList(t, buf.Bytes()), ",")
	if want := "etc/=,etc/motd=hi,motd=,proc/="; got != want {
		t.Fatalf("export %s, want %s", got, want)
	}
}
