package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// LayerSince writes root's changes since its baseline (ChangesSince,
// with the same skip and hide) as an OCI image layer tar, as Layer does
// for an overlay's upper directory: an added or modified path as its
// entry (a directory without what is below it: its changed entries
// follow on their own), a deleted one as an empty ".wh.NAME" file in its
// directory (below a deleted directory only the directory's). Entries
// are in path order, so a directory comes before what is in it; nothing
// is followed (each directory is opened component by component,
// O_NOFOLLOW).
func LayerSince(root, file string, skip, hide []string, w io.Writer) error {
	changes, err := ChangesSince(root, file, skip, hide)
	if err != nil {
		return err
	}
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}, shallow: true}
	for _, c := range changes {
		rel := strings.TrimPrefix(c.Path, "/")
		dir, base := path.Split(rel)
		if c.Kind == proto.ChangeDelete {
			hdr := &tar.Header{Name: path.Join(dir, whiteoutPrefix+base), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: time.Unix(0, 0)}
			if err := t.tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		fd, err := openDirBelow(root, dir)
		if err == unix.ENOENT {
			continue // gone meanwhile
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path.Join("/", dir), err)
		}
		err = t.add(fd, base, rel)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return t.tw.Close()
}

// openDirBelow opens the directory rel ("a/b/" or "") of root, one
// component at a time, following no symlink.
func openDirBelow(root, rel string) (int, error) {
	fd, err := unix.Open(root, dirFlags, 0)
	if err != nil {
		return -1, err
	}
	for _, name := range strings.Split(strings.Trim(rel, "/"), "/") {
		if name == "" {
			continue
		}
		next, err := unix.Openat(fd, name, dirFlags, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}
