package local

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// debugfsLsSizes maps the names in a directory of an ext4 image to sizes.
func debugfsLsSizes(t *testing.T, disk, dir string) map[string]int64 {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "ls -l "+dir, disk).CombinedOutput()
	if err != nil {
		t.Fatalf("debugfs: %v: %s", err, out)
	}
	sizes := map[string]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		// inode mode (uid gid) size date time name
		f := strings.Fields(line)
		if len(f) < 8 || strings.HasPrefix(line, "debugfs") {
			continue
		}
		n, err := strconv.ParseInt(f[len(f)-4], 10, 64)
		if err == nil {
			sizes[f[len(f)-1]] = n
		}
	}
	return sizes
}
