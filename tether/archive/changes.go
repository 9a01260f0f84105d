package archive

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// opaqueXattr marks an overlayfs upper directory that hides the lower one.
const opaqueXattr = "trusted.overlay.opaque"

// Changes lists what the overlayfs upper directory upper changes in the
// lower directory lower, as docker diff does: a whiteout is a deletion, an
// entry the lower layer lacks an addition, any other a modification. A
// directory that exists below is reported only if something in it is. The
// paths in hide (absolute in the container) are left out. The result is
// sorted by path.
func Changes(upper, lower string, hide []string) ([]proto.Change, error) {
	hidden := map[string]bool{}
	for _, h := range hide {
		hidden[path.Clean(h)] = true
	}
	var out []proto.Change
	var walk func(rel string) (bool, error)
	// walk reports the changes below the upper directory rel and whether
	// there were any.
	walk = func(rel string) (bool, error) {
		entries, err := os.ReadDir(filepath.Join(upper, rel))
		if err != nil {
			return false, err
		}
		any := false
		for _, e := range entries {
			p := path.Join("/", rel, e.Name())
			if hidden[p] {
				continue
			}
			up := filepath.Join(upper, rel, e.Name())
			var st unix.Stat_t
			if err := unix.Lstat(up, &st); err != nil {
				return false, err
			}
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
				out = append(out, proto.Change{Path: p, Kind: proto.ChangeDelete})
				any = true
				continue
			}
			var lst unix.Stat_t
			inLower := unix.Lstat(filepath.Join(lower, rel, e.Name()), &lst) == nil
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				kind := proto.ChangeAdd
				if inLower {
					kind = proto.ChangeModify
				}
				out = append(out, proto.Change{Path: p, Kind: kind})
				any = true
				continue
			}
			at := len(out)
			sub, err := walk(path.Join(rel, e.Name()))
			if err != nil {
				return false, err
			}
			lowerDir := inLower && lst.Mode&unix.S_IFMT == unix.S_IFDIR
			if lowerDir && isOpaque(up) {
				// Everything below that the upper layer lacks is gone.
				if del, err := hiddenBelow(filepath.Join(lower, rel, e.Name()), up, p); err == nil && len(del) > 0 {
					out = append(out, del...)
					sub = true
				}
			}
			switch {
			case !lowerDir:
				out = append(out[:at], append([]proto.Change{{Path: p, Kind: proto.ChangeAdd}}, out[at:]...)...)
				any = true
			case sub:
				out = append(out[:at], append([]proto.Change{{Path: p, Kind: proto.ChangeModify}}, out[at:]...)...)
				any = true
			}
		}
		return any, nil
	}
	if _, err := walk("."); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func isOpaque(dir string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(dir, opaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// hiddenBelow lists the entries of lowerDir that upperDir (opaque) lacks.
func hiddenBelow(lowerDir, upperDir, p string) ([]proto.Change, error) {
	entries, err := os.ReadDir(lowerDir)
	if err != nil {
		return nil, err
	}
	var out []proto.Change
	for _, e := range entries {
		if _, err := os.Lstat(filepath.Join(upperDir, e.Name())); errors.Is(err, fs.ErrNotExist) {
			out = append(out, proto.Change{Path: path.Join(p, e.Name()), Kind: proto.ChangeDelete})
		}
	}
	return out, nil
}

// Size is the total size of the regular files under dir (not following
// symlinks, each hard-linked file counted once), as docker counts a
// layer's size.
func Size(dir string) (int64, error) {
	var total int64
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		if st.Nlink > 1 {
			k := [2]uint64{st.Dev, st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += st.Size
		return nil
	})
	return total, err
}
