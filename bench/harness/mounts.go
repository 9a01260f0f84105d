package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// mountsUnder lists mount points at or below dir, deepest first, from
// mountinfo (the format of /proc/self/mountinfo).
func mountsUnder(mountinfo []byte, dir string) []string {
	dir = strings.TrimRight(dir, "/")
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeTree unmounts everything below dir (lazily, deepest first) and
// removes it.
func removeTree(dir string) error {
	if info, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, mp := range mountsUnder(info, dir) {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("harness: remove %s: %w", dir, err)
	}
	return nil
}
