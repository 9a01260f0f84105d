package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// source is a path to read: the entry base inside the directory dirfd
// (base "." names dirfd itself), and the name its tar entries get.
type source struct {
	dirfd int
	base  string
	name  string // docker's rebase name: the base of the requested path
	abs   string // the requested path, absolute
}

func (s *source) close() { unix.Close(s.dirfd) }

// locate resolves p as docker does: every component but the last is
// resolved in the root; the last is not followed unless p ends in "/" or
// "/.".
func (r *Root) locate(p string) (*source, error) {
	a := absPath(p)
	s := &source{name: path.Base(a), abs: a}
	if strings.HasSuffix(a, "/") || strings.HasSuffix(a, "/.") || a == "/" {
		res, err := r.resolve(a)
		if err != nil {
			return nil, err
		}
		fd, err := r.open(res, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, classify(a, err)
		}
		s.dirfd, s.base = fd, "."
		if a == "/" {
			s.name = "."
		}
		return s, nil
	}
	dir, base := path.Split(a)
	res, err := r.resolve(dir)
	if err != nil {
		return nil, err
	}
	fd, err := r.open(res, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, classify(a, err)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Close(fd)
		return nil, classify(a, err)
	}
	s.dirfd, s.base = fd, base
	return s, nil
}

// Stat describes p as docker's container.PathStat: the entry itself (a
// symlink is not followed), and for a symlink its target fully resolved in
// the container.
func (r *Root) Stat(p string) (proto.PathStat, error) {
	s, err := r.locate(p)
	if err != nil {
		return proto.PathStat{}, err
	}
	defer s.close()
	return r.stat(s)
}

func (r *Root) stat(s *source) (proto.PathStat, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(s.dirfd, s.base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return proto.PathStat{}, classify(s.abs, err)
	}
	ps := proto.PathStat{Name: s.name, Size: st.Size, Mode: fileMode(st.Mode), Mtime: time.Unix(st.Mtim.Unix()).UTC()}
	if ps.Mode&fs.ModeSymlink != 0 {
		t, err := r.resolve(s.abs)
		if err != nil {
			return proto.PathStat{}, err
		}
		ps.LinkTarget = t
	}
	return ps, nil
}

// Get writes a tar of p to w, in docker's layout: entries are named after
// the base of p ("file", or "dir/..." for a directory), symlinks are
// stored as symlinks, and p ending in "/." stores the directory's content.
// It returns the stat of p before writing anything.
func (r *Root) Get(p string, w io.Writer, started func(proto.PathStat) error) error {
	s, err := r.locate(p)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := r.stat(s)
	if err != nil {
		return err
	}
	if err := started(st); err != nil {
		return err
	}
	t := &tarWriter{tw: tar.NewWriter(w), links: map[[2]uint64]string{}}
	if err := t.add(s.dirfd, s.base, s.name); err != nil {
		return err
	}
	return t.tw.Close()
}

type tarWriter struct {
	tw    *tar.Writer
	links map[[2]uint64]string // device and inode of a file with more links -> its first entry name
	skip  map[string]bool      // directories (names without "/") written without what is below
	// shallow: every directory is written without what is below it
	// (LayerSince writes each changed entry on its own).
	shallow bool
}

// add writes the entry base of dirfd, named name, and below it for a
// directory. Nothing is followed: dirfd's entries are opened O_NOFOLLOW.
func (t *tarWriter) add(dirfd int, base, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil // gone meanwhile
		}
		return fmt.Errorf("stat %s: %w", name, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Unix()),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFSOCK:
		return nil // docker skips sockets
	case unix.S_IFLNK:
		buf := make([]byte, 4096)
		n, err := unix.Readlinkat(dirfd, base, buf)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, string(buf[:n])
		return t.tw.WriteHeader(hdr)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		hdr.Typeflag = map[uint32]byte{unix.S_IFCHR: tar.TypeChar, unix.S_IFBLK: tar.TypeBlock, unix.S_IFIFO: tar.TypeFifo}[st.Mode&unix.S_IFMT]
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		return t.tw.WriteHeader(hdr)
	case unix.S_IFREG:
		key := [2]uint64{st.Dev, st.Ino}
		if st.Nlink > 1 {
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return t.tw.WriteHeader(hdr)
			}
			t.links[key] = name
		}
		fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.CopyN(t.tw, f, st.Size)
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if n < st.Size { // the file shrank meanwhile: pad
			if _, err := io.CopyN(t.tw, zeros{}, st.Size-n); err != nil {
				return err
			}
		}
		return nil
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		if !strings.HasSuffix(hdr.Name, "/") {
			hdr.Name += "/"
		}
		if err := t.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if t.shallow || t.skip[strings.TrimSuffix(hdr.Name, "/")] {
			return nil
		}
		fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		d := os.NewFile(uintptr(fd), name)
		defer d.Close()
		return t.addEntries(d, name)
	}
	return nil
}

// addEntries adds every entry of the open directory d, in name order,
// named below prefix ("" for the archive's top level).
func (t *tarWriter) addEntries(d *os.File, prefix string) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", d.Name(), err)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := t.add(int(d.Fd()), n, path.Join(prefix, n)); err != nil {
			return err
		}
	}
	return nil
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// fileMode converts a stat mode to Go's fs.FileMode (what docker's
// PathStat carries).
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
