package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// removeCgroups removes the (empty) cgroup directory parent, an absolute
// cgroup path, and everything below it, in every hierarchy mounted under
// root. Directories that still hold processes stay; that is reported.
func removeCgroups(root, parent string) error {
	parent = strings.Trim(parent, "/")
	if parent == "" {
		return nil
	}
	tops, err := filepath.Glob(filepath.Join(root, "*", parent))
	if err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	var dirs []string
	for _, top := range tops {
		_ = filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	// deepest first
	slices.SortStableFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var first error
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) && first == nil {
			first = fmt.Errorf("harness: remove cgroup %s: %w", d, err)
		}
	}
	return first
}
