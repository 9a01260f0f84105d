package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

// PutOptions are docker's extraction options.
type PutOptions struct {
	// CopyUIDGID keeps the owners in the archive (docker cp -a); else what
	// is extracted belongs to root.
	CopyUIDGID bool
	// NoOverwriteDirNonDir refuses to replace a directory by a
	// non-directory or the reverse.
	NoOverwriteDirNonDir bool
}

// PutTarget resolves the extraction point p (its last component followed)
// and returns its stat; it must be a directory.
func (r *Root) PutTarget(p string) (string, proto.PathStat, error) {
	a := absPath(p)
	res, err := r.resolve(a)
	if err != nil {
		return "", proto.PathStat{}, err
	}
	fd, err := r.open(res, unix.O_PATH)
	if err != nil {
		return "", proto.PathStat{}, classify(a, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", proto.PathStat{}, classify(a, err)
	}
	ps := proto.PathStat{Name: path.Base(a), Size: st.Size, Mode: fileMode(st.Mode), Mtime: time.Unix(st.Mtim.Unix()).UTC()}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", ps, ErrNotDir
	}
	return res, ps, nil
}

// Put extracts the tar in into the directory p. On any error (a truncated
// or hostile archive, a full disk) what it created is removed again.
func (r *Root) Put(p string, in io.Reader, opts PutOptions) (err error) {
	dest, _, err := r.PutTarget(p)
	if err != nil {
		return err
	}
	x := &extractor{r: r, dest: dest, opts: opts}
	defer func() {
		if err != nil {
			x.undo()
		}
	}()
	tr := tar.NewReader(in)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w: %w", err, ErrInvalid)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	x.finish()
	return nil
}

type extractor struct {
	r       *Root
	dest    string // resolved, absolute in the container
	opts    PutOptions
	created []string // container paths this extraction made, in order
	dirs    []dirTimes
}

type dirTimes struct {
	path string
	ts   []unix.Timespec
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
	switch {
	case name == "." || name == "/":
		return nil
	case name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("%q is outside of %q: %w", hdr.Name, x.dest, ErrInvalid)
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeSymlink:
		if !path.IsAbs(hdr.Linkname) {
			t := path.Join(path.Dir(name), hdr.Linkname)
			if t == ".." || strings.HasPrefix(t, "../") {
				return fmt.Errorf("invalid symlink %q -> %q: %w", hdr.Name, hdr.Linkname, ErrInvalid)
			}
		}
	case tar.TypeLink:
		t := path.Clean(strings.TrimLeft(hdr.Linkname, "/"))
		if t == ".." || strings.HasPrefix(t, "../") || t == "." {
			return fmt.Errorf("invalid hardlink %q -> %q: %w", hdr.Name, hdr.Linkname, ErrInvalid)
		}
	case tar.TypeReg, tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return fmt.Errorf("%q: unhandled tar header type %d: %w", hdr.Name, hdr.Typeflag, ErrInvalid)
	}
	full := path.Join(x.dest, name)
	dir, base := path.Split(full)
	rdir, err := x.r.resolve(dir)
	if err != nil {
		return classify(full, err)
	}
	full = path.Join(rdir, base)
	pfd, err := x.mkdirAll(rdir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	var old unix.Stat_t
	exists := unix.Fstatat(pfd, base, &old, unix.AT_SYMLINK_NOFOLLOW) == nil
	isDir := hdr.Typeflag == tar.TypeDir
	if exists {
		oldDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
		if x.opts.NoOverwriteDirNonDir && oldDir && !isDir {
			return fmt.Errorf("cannot overwrite directory %q with non-directory %q: %w", full, hdr.Name, ErrInvalid)
		}
		if x.opts.NoOverwriteDirNonDir && !oldDir && isDir {
			return fmt.Errorf("cannot overwrite non-directory %q with directory %q: %w", full, hdr.Name, ErrInvalid)
		}
		if !(oldDir && isDir) {
			if err := removeAt(pfd, base); err != nil {
				return classify(full, err)
			}
			exists = false
		}
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return classify(full, err)
			}
			x.created = append(x.created, full)
		}
	case tar.TypeReg:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return classify(full, err)
		}
		x.created = append(x.created, full)
		f := os.NewFile(uintptr(fd), full)
		_, cerr := io.Copy(f, body)
		if err := f.Close(); cerr == nil {
			cerr = err
		}
		if cerr != nil {
			if errors.Is(cerr, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read archive: %w: %w", cerr, ErrInvalid)
			}
			return classify(full, cerr)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return classify(full, err)
		}
		x.created = append(x.created, full)
	case tar.TypeLink:
		target := path.Join(x.dest, path.Clean(strings.TrimLeft(hdr.Linkname, "/")))
		tdir, tbase := path.Split(target)
		tfd, err := x.r.open(tdir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return classify(target, err)
		}
		err = unix.Linkat(tfd, tbase, pfd, base, 0)
		unix.Close(tfd)
		if err != nil {
			return classify(full, err)
		}
		x.created = append(x.created, full)
		return nil // a hard link shares its target's owner, mode and times
	default: // char, block, fifo
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := unix.Mknodat(pfd, base, mode|0o600, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return classify(full, err)
		}
		x.created = append(x.created, full)
	}
	return x.metadata(pfd, base, full, hdr)
}

// metadata sets owner, mode and times of the new entry base of pfd.
// Nothing here follows a symlink: a running container may have swapped
// one in.
func (x *extractor) metadata(pfd int, base, full string, hdr *tar.Header) error {
	if x.opts.CopyUIDGID {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return classify(full, err)
		}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return classify(full, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			return fmt.Errorf("%s changed during extraction: %w", full, ErrInvalid)
		}
		// chmod through the O_PATH descriptor (fchmod refuses O_PATH).
		err = unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), uint32(hdr.Mode&0o7777))
		unix.Close(fd)
		if err != nil {
			return classify(full, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(hdr.AccessTime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if hdr.AccessTime.IsZero() {
		ts[0] = ts[1]
	}
	if hdr.Typeflag == tar.TypeDir {
		// Extracting its children changes a directory's times: set them last.
		x.dirs = append(x.dirs, dirTimes{full, ts})
		return nil
	}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return classify(full, err)
	}
	return nil
}

// finish sets the directories' times, deepest first.
func (x *extractor) finish() {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		dir, base := path.Split(d.path)
		fd, err := x.r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		_ = unix.UtimesNanoAt(fd, base, d.ts, unix.AT_SYMLINK_NOFOLLOW)
		unix.Close(fd)
	}
}

// mkdirAll opens dir (absolute in the container), creating what is
// missing with mode 0755 as docker does.
func (x *extractor) mkdirAll(dir string) (int, error) {
	fd, err := x.r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		if err != nil {
			return -1, classify(dir, err)
		}
		return fd, nil
	}
	parent, base := path.Split(path.Clean(dir))
	pfd, err := x.mkdirAll(parent)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, classify(dir, err)
	}
	x.created = append(x.created, path.Clean(dir))
	fd, err = unix.Openat(pfd, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, classify(dir, err)
	}
	return fd, nil
}

// undo removes what the extraction created, newest first.
func (x *extractor) undo() {
	for i := len(x.created) - 1; i >= 0; i-- {
		p := x.created[i]
		dir, base := path.Split(p)
		fd, err := x.r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			continue
		}
		_ = removeAt(fd, base)
		unix.Close(fd)
	}
}

// removeAt removes the entry name of dirfd and, for a directory,
// everything below it, without following symlinks.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	d := os.NewFile(uintptr(fd), name)
	names, err := d.Readdirnames(-1)
	if err != nil {
		d.Close()
		return err
	}
	for _, n := range names {
		if err := removeAt(fd, n); err != nil {
			d.Close()
			return err
		}
	}
	d.Close()
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}
