package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLayerSinceBaseline: the changes since the baseline as a layer tar:
// added and modified files with their content, the directories above
// them without their other entries, a deleted file and a deleted
// directory as one whiteout each, a new directory with what is in it, a
// symlink as a symlink; hidden paths, skipped ones and the baseline file
// are not in it.
func TestLayerSinceBaseline(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) { t.Helper(); writeFile(t, root, p, s) }
	write("etc/passwd", "root\n")
	write("etc/group", "root:x:0:\n")
	write("etc/hosts", "127.0.0.1 localhost\n")
	write("gone/a", "a")
	write("gone/b", "b")
	write("keep/b", "b")
	if err := os.MkdirAll(filepath.Join(root, "proc", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"etc", "etc/passwd", "etc/group", "keep", "keep/b"} {
		if err := os.Chtimes(filepath.Join(root, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	skip := []string{"/proc"}
	if err := RecordBaseline(root, "/.base", skip); err != nil {
		t.Fatal(err)
	}
	write("etc/passwd", "root\nnobody\n")
	write("etc/hosts", "rewritten by the tether\n")
	write("proc/1/status", "not a change")
	write("new/dir/file", "fresh")
	if err := os.Symlink("../etc/passwd", filepath.Join(root, "new", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(root, "etc", "group")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := LayerSince(root, "/.base", skip, []string{"/etc/hosts"}, &buf); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tarList(t, buf.Bytes()), ",")
	want := "etc/=,etc/.wh.group=,etc/passwd=root\nnobody\n,.wh.gone=,new/=,new/dir/=,new/dir/file=fresh,new/link="
	if got != want {
		t.Fatalf("layer %q\nwant  %q", got, want)
	}
}
