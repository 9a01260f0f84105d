package storagetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

// twoLayers is busybox plus a layer that adds /added.txt and whites out
// /etc/group.
func twoLayers(t *testing.T) *fixture.Image {
	t.Helper()
	wl, err := fixture.WhiteoutLayer()
	if err != nil {
		t.Fatal(err)
	}
	two, err := fixture.WithLayer(busybox(t), fixture.ImageConfig{Cmd: []string{"cat", "/added.txt"}}, wl)
	if err != nil {
		t.Fatal(err)
	}
	return two
}

func testWhiteouts(t *testing.T, s storage.Store, reg *fixture.Registry) {
	img, err := s.Pull(context.Background(), push(t, reg, "two", twoLayers(t)), storage.PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	disk := checkExt4(t, s, img.ID)
	ls := debugfsLs(t, disk, "/etc")
	if contains(ls, "group") || contains(ls, ".wh.group") || !contains(ls, "passwd") {
		t.Fatalf("whiteout not applied, /etc holds %v", ls)
	}
	if ls := debugfsLs(t, disk, "/var"); contains(ls, "tmp") || !contains(ls, "new.txt") || contains(ls, ".wh..wh..opq") {
		t.Fatalf("opaque whiteout not applied, /var holds %v", ls)
	}
	if got := debugfsCat(t, disk, "/added.txt"); got != "from layer 2\n" {
		t.Fatalf("/added.txt holds %q", got)
	}
}

// A layer with `..`, absolute and symlink-escaping paths writes nothing
// outside the image, whether the pull fails or not.
func testHostile(t *testing.T, s storage.Store, reg *fixture.Registry) {
	outside := filepath.Join(t.TempDir(), "pwned")
	hostile, err := fixture.HostileLayer(outside)
	if err != nil {
		t.Fatal(err)
	}
	img, err := fixture.WithLayer(busybox(t), fixture.ImageConfig{Cmd: []string{"sh"}}, hostile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Pull(context.Background(), push(t, reg, "hostile", img), storage.PullOptions{})
	for _, p := range []string{outside, "/pwned", filepath.Join(filepath.Dir(outside), "escape")} {
		if _, serr := os.Lstat(p); serr == nil {
			t.Fatalf("hostile layer wrote %s (pull error: %v)", p, err)
		}
	}
	if err != nil {
		t.Logf("pull refused the hostile layer: %v", err)
		return
	}
	// Applied: the escaping entries must have landed inside the image.
	disk := checkExt4(t, s, got.ID)
	t.Logf("hostile layer applied inside the image; / holds %v", debugfsLs(t, disk, "/"))
}

// debugfsLs lists a directory inside an ext4 image with e2fsprogs' debugfs.
func debugfsLs(t *testing.T, disk, dir string) []string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "ls -l "+dir, disk).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v: %s", err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && !strings.HasPrefix(line, "debugfs") {
			names = append(names, f[len(f)-1])
		}
	}
	return names
}

// debugfsCat reads a file inside an ext4 image.
func debugfsCat(t *testing.T, disk, path string) string {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat "+path, disk).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", path, err)
	}
	return string(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
