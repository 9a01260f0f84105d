package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
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
	var walk func(rel string) error
	walk = func(rel string) error {
		dir := filepath.Join(upper, rel)
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", rel, err)
		}
		d := os.NewFile(uintptr(fd), dir)
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
				hdr := &tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: int64(st.Mode & 0o7777),
					Uid: int(st.Uid), Gid: int(st.Gid), ModTime: time.Unix(st.Mtim.Unix())}
				if err := t.tw.WriteHeader(hdr); err != nil {
					return err
				}
				if isOpaque(filepath.Join(upper, name)) {
					if err := t.tw.WriteHeader(&tar.Header{Name: path.Join(name, opaqueWhiteout), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: hdr.ModTime}); err != nil {
						return err
					}
				}
				if err := walk(name); err != nil {
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
	if err := walk("."); err != nil {
		return err
	}
	return t.tw.Close()
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
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", root, err)
	}
	sort.Strings(names)
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, skip: map[string]bool{}}
	for _, s := range skip {
		t.skip[strings.TrimPrefix(path.Clean(s), "/")] = true
	}
	for _, n := range names {
		if err := t.add(fd, n, n); err != nil {
			return err
		}
	}
	return t.tw.Close()
}
