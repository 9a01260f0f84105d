package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

type entry struct {
	name, body, link string
	typ              byte
	uid              int
}

func mkTar(t *testing.T, es []entry, truncate bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Linkname: e.link, Uid: e.uid, Gid: e.uid}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.body != "" {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	b := buf.Bytes()
	if truncate {
		b = b[:len(b)-1500]
	}
	return b
}

// setup makes OUTER/root (the container root) with /dest in it and an
// OUTER/outside directory that nothing may touch.
func setup(t *testing.T) (outer, root string) {
	outer = t.TempDir()
	root = filepath.Join(outer, "root")
	for _, d := range []string{"root/dest", "root/etc", "outside"} {
		if err := os.MkdirAll(filepath.Join(outer, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A symlink in the container pointing at the host path of "outside",
	// and one climbing out with "..".
	os.Symlink(filepath.Join(outer, "outside"), filepath.Join(root, "dest", "hostlink"))
	os.Symlink("../../../outside", filepath.Join(root, "dest", "uplink"))
	return outer, root
}

func open(t *testing.T, root string, walk bool) *Root {
	r, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	r.openat2 = !walk
	t.Cleanup(func() { r.Close() })
	return r
}

func each(t *testing.T, f func(t *testing.T, walk bool)) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) { f(t, walk) })
	}
}

func listOutside(t *testing.T, outer string) []string {
	var names []string
	filepath.Walk(filepath.Join(outer, "outside"), func(p string, _ os.FileInfo, _ error) error {
		names = append(names, p)
		return nil
	})
	return names
}

func TestPutGetRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, walk bool) {
		_, root := setup(t)
		r := open(t, root, walk)
		in := mkTar(t, []entry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/f", typ: tar.TypeReg, body: "hello", uid: 1234},
			{name: "d/l", typ: tar.TypeSymlink, link: "f"},
			{name: "d/h", typ: tar.TypeLink, link: "d/f"},
		}, false)
		if err := r.Put("/dest", bytes.NewReader(in), PutOptions{CopyUIDGID: true}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, "dest/d/f"))
		if err != nil || string(b) != "hello" {
			t.Fatalf("d/f = %q, %v", b, err)
		}
		var st unix.Stat_t
		unix.Lstat(filepath.Join(root, "dest/d/f"), &st)
		if st.Uid != 1234 || st.Nlink != 2 {
			t.Fatalf("uid %d nlink %d", st.Uid, st.Nlink)
		}
		ps, err := r.Stat("/dest/d/l")
		if err != nil || ps.LinkTarget != "/dest/d/f" || ps.Name != "l" {
			t.Fatalf("stat link: %+v %v", ps, err)
		}
		var out bytes.Buffer
		var got proto.PathStat
		if err := r.Get("/dest/d", &out, func(s proto.PathStat) error { got = s; return nil }); err != nil {
			t.Fatal(err)
		}
		if !got.Mode.IsDir() || got.Name != "d" {
			t.Fatalf("get stat %+v", got)
		}
		tr := tar.NewReader(&out)
		var names []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, h.Name+":"+string(h.Typeflag))
		}
		sort.Strings(names)
		want := "d/:5 d/f:0 d/h:1 d/l:2"
		if strings.Join(names, " ") != want {
			t.Fatalf("tar = %v, want %s", names, want)
		}
		if _, err := r.Stat("/nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
	})
}

func TestPutHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   bool
		inside  string // where the file must land, relative to root
	}{
		{name: "dotdot", entries: []entry{{name: "ok", typ: tar.TypeReg, body: "x"}, {name: "../../outside/pwned", typ: tar.TypeReg, body: "x"}}, fails: true},
		{name: "absolute", entries: []entry{{name: "/abs", typ: tar.TypeReg, body: "x"}}, inside: "dest/abs"},
		{name: "relative symlink out", entries: []entry{{name: "out", typ: tar.TypeSymlink, link: "../../../outside"}}, fails: true},
		{name: "hardlink out", entries: []entry{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}, fails: true},
		{name: "absolute symlink written through", entries: []entry{{name: "out", typ: tar.TypeSymlink, link: "/"}, {name: "out/pwned", typ: tar.TypeReg, body: "x"}}, inside: "pwned"},
		{name: "host symlink written through", entries: []entry{{name: "hostlink/pwned", typ: tar.TypeReg, body: "x"}}, inside: "outside-host"},
		{name: "dotdot symlink written through", entries: []entry{{name: "uplink/pwned", typ: tar.TypeReg, body: "x"}}, inside: "outside/pwned"},
		{name: "truncated", entries: []entry{{name: "a", typ: tar.TypeReg, body: "x"}, {name: "big", typ: tar.TypeReg, body: strings.Repeat("y", 4000)}}, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, walk bool) {
				outer, root := setup(t)
				r := open(t, root, walk)
				in := mkTar(t, tc.entries, tc.name == "truncated")
				err := r.Put("/dest", bytes.NewReader(in), PutOptions{})
				if tc.fails {
					if !errors.Is(err, ErrInvalid) {
						t.Fatalf("Put = %v, want ErrInvalid", err)
					}
					for _, f := range []string{"dest/ok", "dest/a", "dest/big", "dest/out", "dest/h"} {
						if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
							t.Errorf("%s left behind", f)
						}
					}
				} else if err != nil {
					t.Fatal(err)
				}
				if got := listOutside(t, outer); len(got) != 1 {
					t.Fatalf("outside was written: %v", got)
				}
				if tc.inside != "" {
					want := filepath.Join(root, tc.inside)
					if tc.inside == "outside-host" {
						want = filepath.Join(root, outer, "outside", "pwned")
					}
					if _, err := os.Stat(want); err != nil {
						t.Fatalf("not extracted inside the root: %v", err)
					}
				}
			})
		})
	}
}

func TestPutTargetNotDir(t *testing.T) {
	_, root := setup(t)
	os.WriteFile(filepath.Join(root, "file"), []byte("x"), 0o644)
	r := open(t, root, false)
	if err := r.Put("/file", bytes.NewReader(nil), PutOptions{}); !errors.Is(err, ErrNotDir) {
		t.Fatalf("Put to a file: %v", err)
	}
	if err := r.Put("/missing", bytes.NewReader(nil), PutOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Put to a missing dir: %v", err)
	}
}

func TestChangesAndSize(t *testing.T) {
	dir := t.TempDir()
	lower, upper := filepath.Join(dir, "lower"), filepath.Join(dir, "upper")
	for _, d := range []string{"lower/etc", "lower/bin", "lower/tmp", "upper/etc", "upper/tmp/new", "upper/bin"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.WriteFile(filepath.Join(lower, "bin/sh"), []byte("sh"), 0o755)
	os.WriteFile(filepath.Join(lower, "etc/passwd"), []byte("root"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc/hosts"), []byte("hosts"), 0o644)
	os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("root2"), 0o644)
	os.WriteFile(filepath.Join(upper, "tmp/new/f"), []byte("12345"), 0o644)
	if err := unix.Mknod(filepath.Join(upper, "bin/sh"), unix.S_IFCHR, 0); err != nil {
		t.Fatalf("mknod a whiteout (needs root, as the tether has): %v", err)
	}
	got, err := Changes(upper, lower, []string{"/etc/hosts"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, c := range got {
		s = append(s, string("CAD"[c.Kind])+" "+c.Path)
	}
	want := "C /bin,D /bin/sh,C /etc,C /etc/passwd,C /tmp,A /tmp/new,A /tmp/new/f"
	if strings.Join(s, ",") != want {
		t.Fatalf("changes %v, want %s", s, want)
	}
	n, err := Size(upper)
	if err != nil || n != int64(len("hosts")+len("root2")+5) {
		t.Fatalf("size %d %v", n, err)
	}
}
