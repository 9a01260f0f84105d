package harness

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/procmem"
)

func TestParseExports(t *testing.T) {
	out := "VCH vch1 is up\n" +
		"export DOCKER_HOST=tcp://127.0.0.1:2376 DOCKER_TLS_VERIFY=1\n" +
		"export DOCKER_CERT_PATH=\"/tmp/x y\"\n" +
		"  export DOCKER_API_VERSION='1.41'\n" +
		"exported nothing\n"
	got := ParseExports(out)
	want := map[string]string{"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1",
		"DOCKER_CERT_PATH": "/tmp/x y", "DOCKER_API_VERSION": "1.41"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseExports = %v, want %v", got, want)
	}
}

func TestStackUnwindsInReverseOnce(t *testing.T) {
	s := NewStack(zap.NewNop())
	var order []string
	boom := errors.New("boom")
	s.Push("a", func(context.Context) error { order = append(order, "a"); return nil })
	s.Push("b", func(context.Context) error { order = append(order, "b"); return boom })
	s.Push("c", func(context.Context) error { order = append(order, "c"); return nil })
	if err := s.Unwind(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Unwind = %v, want boom", err)
	}
	if err := s.Unwind(context.Background()); err != nil {
		t.Fatalf("second Unwind = %v", err)
	}
	if !reflect.DeepEqual(order, []string{"c", "b", "a"}) {
		t.Fatalf("order = %v", order)
	}
}

func TestMountsUnder(t *testing.T) {
	info := "22 1 0:21 / /tmp/w rw - tmpfs tmpfs rw\n" +
		"23 22 0:22 / /tmp/w/data/overlay2/x/merged rw - overlay overlay rw\n" +
		"24 22 0:4 / /tmp/w/exec/netns/abc rw - nsfs nsfs rw\n" +
		"25 1 0:23 / /tmp/wx rw - tmpfs tmpfs rw\n" +
		"26 1 0:24 / /tmp/w/with\\040space rw - tmpfs tmpfs rw\n"
	got := mountsUnder([]byte(info), "/tmp/w/")
	want := []string{"/tmp/w/data/overlay2/x/merged", "/tmp/w/exec/netns/abc", "/tmp/w/with space", "/tmp/w"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mountsUnder = %q, want %q", got, want)
	}
}

func TestContainerProcs(t *testing.T) {
	table := []procmem.Proc{{Pid: 1, PPid: 0, Comm: "init"}, {Pid: 50, PPid: 1, Comm: "containerd-shim-runc-v2"},
		{Pid: 51, PPid: 50, Comm: "sleep"}, {Pid: 60, PPid: 1, Comm: "qemu-system-x86"}, {Pid: 61, PPid: 60, Comm: "helper"}}
	cases := []struct {
		pid  int
		want []int
	}{{51, []int{50, 51}}, {60, []int{60, 61}}, {0, nil}}
	for _, c := range cases {
		if got := ContainerProcs(table, c.pid); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ContainerProcs(%d) = %v, want %v", c.pid, got, c.want)
		}
	}
}

// TestRemoveTreeUnmounts mounts a tmpfs below a directory and checks that
// removeTree unmounts and deletes it (needs root, as the benchmark does).
func TestRemoveTreeUnmounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs; the benchmark runs as root")
	}
	dir := t.TempDir()
	mp := filepath.Join(dir, "a", "m")
	if err := os.MkdirAll(mp, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "tmpfs", mp).CombinedOutput(); err != nil {
		t.Fatalf("mount: %s %v", out, err)
	}
	if err := os.WriteFile(filepath.Join(mp, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Fatalf("tree still there: %v", err)
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if m := mountsUnder(info, dir); len(m) != 0 {
		t.Fatalf("mounts left: %v", m)
	}
}

// TestRemoveCgroups makes a cgroup below the memory hierarchy, as dockerd
// does for a container, and removes it (needs root and cgroup v1).
func TestRemoveCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make cgroups; the benchmark runs as root")
	}
	parent := "/vchbench-test-" + filepath.Base(t.TempDir())
	dir := filepath.Join(cgroupRoot, "memory", parent, "child")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make cgroup: %v", err)
	}
	if err := removeCgroups(cgroupRoot, parent); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "memory", parent)); !os.IsNotExist(err) {
		t.Fatalf("cgroup still there: %v", err)
	}
	if err := removeCgroups(cgroupRoot, "/"); err != nil {
		t.Fatalf("empty parent: %v", err)
	}
}
