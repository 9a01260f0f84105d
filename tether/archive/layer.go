package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Whiteout names of the OCI image layer format.
const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// Layer writes the overlayfs upper directory upper as an OCI image layer
// tar (what docker commit stores): every entry of upper under its path
// relative to the root ("etc/", "etc/passwd"), an overlayfs whiteout (a
// 0:0 character device) as an empty ".wh.NAME" file, and an opaque
// directory (trusted.overlay.opaque=y) followed by a ".wh..wh..opq" entry.
// The paths in hide (absolute in the container) are left out.
func Layer(upper string, hide []string, w io.Writer) error {
	hidden := map[string]bool{}
	for _, h := range hide {
		hidden[path.Clean(h)] = true
	}
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
	// Each directory is opened relative to its parent's descriptor and
	// never through a symlink, so a container that renames or swaps
	// directories during an unpaused commit cannot lead the walk outside
	// upper.
	var walk func(fd int, rel string) error
	walk = func(fd int, rel string) error {
		d := os.NewFile(uintptr(fd), rel)
		defer d.Close()
		names, err := d.Readdirnames(-1)
		if err != nil {
			return fmt.Errorf("read directory %s: %w", rel, err)
		}
		sort.Strings(names)
		for _, n := range names {
			name := path.Join(rel, n)
			if hidden["/"+name] {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err == unix.ENOENT {
					continue // gone meanwhile
				}
				return fmt.Errorf("stat %s: %w", name, err)
			}
			switch {
			case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0:
				hdr := &tar.Header{Name: path.Join(rel, whiteoutPrefix+n), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: time.Unix(st.Mtim.Unix())}
				if err := t.tw.WriteHeader(hdr); err != nil {
					return err
				}
			case st.Mode&unix.S_IFMT == unix.S_IFDIR:
				sub, err := unix.Openat(fd, n, dirFlags, 0)
				if err != nil {
					return fmt.Errorf("open %s: %w", name, err)
				}
				hdr := &tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: int64(st.Mode & 0o7777),
					Uid: int(st.Uid), Gid: int(st.Gid), ModTime: time.Unix(st.Mtim.Unix())}
				if err := t.tw.WriteHeader(hdr); err != nil {
					unix.Close(sub)
					return err
				}
				if fdOpaque(sub) {
					if err := t.tw.WriteHeader(&tar.Header{Name: path.Join(name, opaqueWhiteout), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: hdr.ModTime}); err != nil {
						unix.Close(sub)
						return err
					}
				}
				if err := walk(sub, name); err != nil {
					return err
				}
			default:
				if err := t.add(fd, n, name); err != nil {
					return err
				}
			}
		}
		return nil
	}
	fd, err := unix.Open(upper, dirFlags, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", upper, err)
	}
	if err := walk(fd, "."); err != nil {
		return err
	}
	return t.tw.Close()
}

// dirFlags open a directory for a walk, never through a symlink.
const dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// fdOpaque reports whether the open directory fd is an overlayfs opaque
// directory (trusted.overlay.opaque=y).
func fdOpaque(fd int) bool {
	buf := make([]byte, 8)
	n, err := unix.Fgetxattr(fd, opaqueXattr, buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// Export writes the whole tree under root as docker export does: entries
// named relative to the root ("bin/", "etc/passwd"), without the root
// itself, nothing followed. The directories in skip (absolute) are
// written without what is below them (/proc, /sys, /dev, mount points).
func Export(root string, skip []string, w io.Writer) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", root, err)
	}
	d := os.NewFile(uintptr(fd), root)
	defer d.Close()
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, skip: map[string]bool{}}
	for _, s := range skip {
		t.skip[strings.TrimPrefix(path.Clean(s), "/")] = true
	}
	if err := t.addEntries(d, ""); err != nil {
		return err
	}
	return t.tw.Close()
}
