package execspec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		tty  bool
		want []string
	}{
		{"defaults", nil, false, []string{"PATH=" + DefaultPath, "HOSTNAME=h", "HOME=/root"}},
		{"tty", nil, true, []string{"PATH=" + DefaultPath, "HOSTNAME=h", "TERM=xterm", "HOME=/root"}},
		{"image env kept in order", []string{"A=1", "PATH=/bin", "B=2"}, false,
			[]string{"HOSTNAME=h", "A=1", "PATH=/bin", "B=2", "HOME=/root"}},
		{"overrides", []string{"HOME=/x", "TERM=vt100", "HOSTNAME=o"}, true,
			[]string{"PATH=" + DefaultPath, "HOME=/x", "TERM=vt100", "HOSTNAME=o"}},
		{"later duplicate wins in place", []string{"A=1", "B=2", "A=3"}, false,
			[]string{"PATH=" + DefaultPath, "HOSTNAME=h", "A=3", "B=2", "HOME=/root"}},
		{"empty value kept", []string{"A="}, false, []string{"PATH=" + DefaultPath, "HOSTNAME=h", "A=", "HOME=/root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Env(tc.env, "h", "/root", tc.tty); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if v, ok := Lookup([]string{"A=1", "PATH=/a", "PATH=/b"}, "PATH"); !ok || v != "/b" {
		t.Fatalf("Lookup: %q %v", v, ok)
	}
}

// fakeRoot builds a small container root:
//
//	/bin -> usr/bin, /usr/bin/{sh (exec), data (no exec), sub/},
//	/sbin/abs -> /usr/bin/sh (absolute link), /loop -> /loop,
//	/escape -> ../../../../etc (must stay inside the root)
func fakeRoot(t *testing.T) string {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin/sub"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "sbin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "work"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/sh"), []byte("#!"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/data"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(root, "work/run.sh"), []byte("#!"), 0o755))
	must(os.Symlink("usr/bin", filepath.Join(root, "bin")))
	must(os.Symlink("/usr/bin/sh", filepath.Join(root, "sbin/abs")))
	must(os.Symlink("/loop", filepath.Join(root, "loop")))
	must(os.Symlink("../../../../etc", filepath.Join(root, "escape")))
	return root
}

func TestInRoot(t *testing.T) {
	root := fakeRoot(t)
	for _, tc := range []struct{ in, want string }{
		{"/bin/sh", "usr/bin/sh"},
		{"bin/sh", "usr/bin/sh"},
		{"/sbin/abs", "usr/bin/sh"},
		{"/escape/passwd", "etc/passwd"},
		{"/../../bin/../etc", "etc"},
		{"/missing/dir", "missing/dir"},
		{"/", ""},
	} {
		got, err := InRoot(root, tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if want := filepath.Join(root, tc.want); got != want {
			t.Errorf("InRoot(%q) = %q, want %q", tc.in, got, want)
		}
	}
	if _, err := InRoot(root, "/loop/x"); err == nil {
		t.Error("symlink loop resolved")
	}
	if _, err := ReadFileInRoot(root, "/etc/passwd"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLookPath(t *testing.T) {
	root := fakeRoot(t)
	for _, tc := range []struct {
		file, dir, path string
		want            string
		code            int
	}{
		{"sh", "/", "/usr/local/bin:/bin", "/bin/sh", 0},
		{"abs", "/", "/sbin", "/sbin/abs", 0},
		{"/bin/sh", "/", "", "/bin/sh", 0},
		{"./run.sh", "/work", "/bin", "./run.sh", 0},
		{"run.sh", "/work", "/bin:", "/work/run.sh", 0},
		{"foo", "/", "/bin:/usr/bin", "", ExitNotFound},
		{"data", "/", "/bin", "", ExitNotExecutable},
		{"sub", "/", "/bin", "", ExitNotExecutable},
		{"/bin/data", "/", "", "", ExitNotExecutable},
		{"/nope", "/", "", "", ExitNotFound},
		{"", "/", "/bin", "", ExitNotFound},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := LookPath(root, tc.dir, tc.file, tc.path)
			if tc.code != 0 {
				if ExitCode(err) != tc.code {
					t.Fatalf("err %v: code %d, want %d", err, ExitCode(err), tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	_, err := LookPath(root, "/", "foo", "/bin")
	if err == nil || err.Error() != `exec: "foo": executable file not found in $PATH` {
		t.Fatalf("message: %v", err)
	}
	if ExitCode(errors.New("other")) != ExitStartFailed {
		t.Fatal("plain error code")
	}
}
