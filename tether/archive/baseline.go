package archive

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/tether/proto"
)

// A baseline stands in for the image layer where the container root is
// no overlay the tether mounted (the vSphere transport in a docker-backed
// simulator VM, whose root is the backing container's own file system):
// the tether records the root as its first boot found it, and diff and
// sizes compare the root with that record.

// baseEntry is what a baseline keeps of one path.
type baseEntry struct {
	Mode  uint32 `json:"m"`
	Size  int64  `json:"s,omitempty"`
	Mtime int64  `json:"t,omitempty"` // ns
	Link  string `json:"l,omitempty"`
}

// walkRoot calls fn for every path under root (container paths, "/"
// excluded), not descending into the paths in skip nor into directories
// on another file system (mounts: volumes, the kernel's file systems).
func walkRoot(root string, skip []string, fn func(p string, st *unix.Stat_t)) error {
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[path.Clean(s)] = true
	}
	var rootSt unix.Stat_t
	if err := unix.Lstat(root, &rootSt); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		entries, err := os.ReadDir(filepath.Join(root, rel))
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		for _, e := range entries {
			p := path.Join("/", rel, e.Name())
			if skipped[p] {
				continue
			}
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
				continue // removed meanwhile
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			if isDir && st.Dev != rootSt.Dev {
				continue
			}
			fn(p, &st)
			if isDir {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("/")
}

func entryOf(root, p string, st *unix.Stat_t) baseEntry {
	e := baseEntry{Mode: st.Mode, Mtime: st.Mtim.Nano()}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Size = st.Size
	case unix.S_IFLNK:
		e.Link, _ = os.Readlink(filepath.Join(root, p))
	}
	return e
}

// RecordBaseline writes the baseline of root to file (a container path
// under root, itself left out of every walk) unless it exists. skip are
// paths not recorded (the kernel's file systems).
func RecordBaseline(root, file string, skip []string) error {
	full := filepath.Join(root, file)
	if _, err := os.Lstat(full); err == nil {
		return nil
	}
	base := map[string]baseEntry{}
	err := walkRoot(root, append(skip, file), func(p string, st *unix.Stat_t) {
		base[p] = entryOf(root, p, st)
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(base)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(full, b, 0o600); err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	return nil
}

func readBaseline(root, file string) (map[string]baseEntry, error) {
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	base := map[string]baseEntry{}
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", file, err)
	}
	return base, nil
}

// ChangesSince lists root's changes since its baseline (see
// RecordBaseline) as docker diff does: a path the baseline lacks is an
// addition, one whose type, mode, size, time or link target differ a
// modification, one only the baseline has a deletion (below a deleted
// directory only the directory), and the directories above a change are
// modified. The paths in hide are left out; the result is sorted by
// path.
func ChangesSince(root, file string, skip, hide []string) ([]proto.Change, error) {
	base, err := readBaseline(root, file)
	if err != nil {
		return nil, err
	}
	hidden := map[string]bool{}
	for _, h := range hide {
		hidden[path.Clean(h)] = true
	}
	seen := map[string]bool{}
	var out []proto.Change
	err = walkRoot(root, append(skip, file), func(p string, st *unix.Stat_t) {
		seen[p] = true
		if hidden[p] {
			return
		}
		was, ok := base[p]
		switch {
		case !ok:
			out = append(out, proto.Change{Path: p, Kind: proto.ChangeAdd})
		case was != entryOf(root, p, st):
			out = append(out, proto.Change{Path: p, Kind: proto.ChangeModify})
		}
	})
	if err != nil {
		return nil, err
	}
	for p := range base {
		if seen[p] || hidden[p] {
			continue
		}
		if _, parentGone := base[path.Dir(p)]; parentGone && !seen[path.Dir(p)] && path.Dir(p) != "/" {
			continue
		}
		out = append(out, proto.Change{Path: p, Kind: proto.ChangeDelete})
	}
	// As docker diff on an overlay: the directories above a change are
	// changed too.
	listed := map[string]bool{}
	for _, c := range out {
		listed[c.Path] = true
	}
	for _, c := range out {
		for d := path.Dir(c.Path); d != "/" && !listed[d]; d = path.Dir(d) {
			listed[d] = true
			if !hidden[d] {
				out = append(out, proto.Change{Path: d, Kind: proto.ChangeModify})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// SizeSince is the total size of the regular files added or modified
// since root's baseline.
func SizeSince(root, file string, skip []string) (int64, error) {
	base, err := readBaseline(root, file)
	if err != nil {
		return 0, err
	}
	var total int64
	err = walkRoot(root, append(skip, file), func(p string, st *unix.Stat_t) {
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return
		}
		if was, ok := base[p]; !ok || was != entryOf(root, p, st) {
			total += st.Size
		}
	})
	return total, err
}
