package archive

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// TestChangesSinceBaseline: after RecordBaseline, an added file is A, a
// rewritten one C (and its directory C), a removed directory D without
// its content, hidden paths and the baseline file itself are left out,
// and SizeSince counts the added and changed files.
func TestChangesSinceBaseline(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) { t.Helper(); writeFile(t, root, p, s) }
	write("etc/passwd", "root\n")
	write("etc/hosts", "127.0.0.1 localhost\n")
	write("gone/a", "a")
	write("keep/b", "b")
	if err := os.MkdirAll(filepath.Join(root, "proc", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, p := range []string{"etc", "etc/passwd", "keep"} {
		if err := os.Chtimes(filepath.Join(root, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	skip := []string{"/proc"}
	if err := RecordBaseline(root, "/.base", skip); err != nil {
		t.Fatal(err)
	}
	// A second record keeps the first.
	write("keep/new", "12345")
	if err := RecordBaseline(root, "/.base", skip); err != nil {
		t.Fatal(err)
	}
	write("etc/passwd", "root\nnobody\n")
	write("etc/hosts", "rewritten by the tether\n")
	write("proc/1/status", "not a change")
	if err := os.RemoveAll(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	got, err := ChangesSince(root, "/.base", skip, []string{"/etc/hosts"})
	if err != nil {
		t.Fatal(err)
	}
	want := []proto.Change{
		{Path: "/etc", Kind: proto.ChangeModify},
		{Path: "/etc/passwd", Kind: proto.ChangeModify},
		{Path: "/gone", Kind: proto.ChangeDelete},
		{Path: "/keep", Kind: proto.ChangeModify},
		{Path: "/keep/new", Kind: proto.ChangeAdd},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	size, err := SizeSince(root, "/.base", skip)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len("root\nnobody\n") + len("12345") + len("rewritten by the tether\n")); size != want {
		t.Fatalf("size %d, want %d", size, want)
	}
}

// writeFile writes s at p below root, making the directories above it.
func writeFile(t *testing.T, root, p, s string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
