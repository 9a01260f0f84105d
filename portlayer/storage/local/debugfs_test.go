package local

import (
	"os/exec"
	"strings"
	"testing"
)

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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
