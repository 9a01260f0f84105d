package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	out := "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibext2fs.so.2 => /lib/x86_64-linux-gnu/libext2fs.so.2 (0x00007f)\n" +
		"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
	got, err := parseLdd(out)
	want := []string{"/lib/x86_64-linux-gnu/libext2fs.so.2", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("parseLdd = %q %v", got, err)
	}
	if _, err := parseLdd("\tlibgone.so.1 => not found\n"); err == nil {
		t.Fatal("a missing library was not an error")
	}
}

// TestHostBinaryRuns packs the host's mke2fs as the vSphere initramfs
// does and runs it from the unpacked tree through its own loader and
// libraries only: it makes a file system.
func TestHostBinaryRuns(t *testing.T) {
	files, err := HostBinary(hostMkfs, MkfsPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Build(&buf, hostMkfs, nil, nil, files...); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cpio := exec.Command("cpio", "-idm", "--quiet")
	cpio.Dir, cpio.Stdin = root, &buf
	if out, err := cpio.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	var loader, libDirs []string
	for _, f := range files[1:] {
		if strings.Contains(f.Name, "ld-linux") {
			loader = append(loader, filepath.Join(root, f.Name))
		} else {
			libDirs = append(libDirs, filepath.Join(root, filepath.Dir(f.Name)))
		}
	}
	if len(loader) != 1 {
		t.Fatalf("loader: %v", loader)
	}
	img := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(loader[0], "--library-path", strings.Join(libDirs, ":"), filepath.Join(root, MkfsPath), "-q", "-t", "ext4", "-F", img)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("packed mke2fs: %v\n%s", err, out)
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck: %v\n%s", err, out)
	}
}

// TestMkfsFilesFromRoot: with VCH_MKFS_ROOT the tree's files are packed
// at their paths (the Dockerfile build); a tree without mke2fs is an
// error.
func TestMkfsFilesFromRoot(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{MkfsPath: "mke2fs", "lib/x/libe2p.so.2": "lib", "etc/mke2fs.conf": "conf"} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(MkfsRootEnv, root)
	files, err := MkfsFiles()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if strings.Join(names, " ") != "etc/mke2fs.conf lib/x/libe2p.so.2 "+MkfsPath {
		t.Fatalf("files %v", names)
	}
	if err := os.Remove(filepath.Join(root, MkfsPath)); err != nil {
		t.Fatal(err)
	}
	if _, err := MkfsFiles(); err == nil {
		t.Fatal("a tree without mke2fs was taken")
	}
}
