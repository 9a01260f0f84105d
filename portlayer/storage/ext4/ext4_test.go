package ext4

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A fresh 8 GB layer stays small on disk and has every inode table marked
// zeroed, so the guest kernel's lazy init thread writes nothing either.
func TestFreshLayerIsSmallAndNeedsNoInodeTableZeroing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.ext4")
	if err := Make(context.Background(), path, 8<<30, "", ""); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 16<<20 {
		t.Fatalf("a fresh 8 GB layer uses %d bytes on disk", used)
	}
	if !prezeroedSupported(context.Background()) {
		t.Fatal("mkfs.ext4 here lacks assume_storage_prezeroed (e2fsprogs < 1.47); Debian 12 has 1.47")
	}
	out, err := exec.Command("dumpe2fs", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	groups, zeroed := 0, 0
	for _, l := range strings.Split(string(out), "\n") {
		if n := strings.TrimPrefix(l, "Group "); n != l && n != "" && n[0] >= '0' && n[0] <= '9' {
			groups++
			if strings.Contains(l, "ITABLE_ZEROED") {
				zeroed++
			}
		}
	}
	if groups == 0 || zeroed != groups {
		t.Fatalf("%d of %d block groups have their inode table marked zeroed", zeroed, groups)
	}
}
