// Package archive reads and writes tar archives of paths inside a
// container's root file system, confined to that root: the tether serves
// docker cp with it (proto.ChanArchive), and it reports the changes and
// size of the writable layer (docker diff, ps -s).
//
// Every path is resolved as a process chrooted into the root would
// resolve it: ".." stops at the root and absolute symlinks start over at
// the root. Files are opened with openat2(RESOLVE_IN_ROOT) where the
// kernel has it, else one component at a time with O_NOFOLLOW, so a
// symlink swapped in by a running container cannot lead a read or a write
// outside the root. Extraction refuses what docker refuses (entries and
// relative symlinks or hard links that climb out of the destination) and
// removes what it created when it fails.
//
// A caller opens the root once per operation (OpenRoot), calls Stat, Get,
// Put, and closes it.
package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Errors, tested with errors.Is.
var (
	ErrNotFound = errors.New("no such file or directory")
	ErrNotDir   = errors.New("extraction point is not a directory")
	ErrInvalid  = errors.New("invalid archive")
	ErrReadOnly = errors.New("read-only file system")
)

// maxSymlinks bounds symlink expansion like the kernel's ELOOP limit.
const maxSymlinks = 40

// Root is an open container root file system.
type Root struct {
	f       *os.File
	openat2 bool // the kernel has openat2; false after ENOSYS
}

// OpenRoot opens dir as a container root.
func OpenRoot(dir string) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return &Root{f: os.NewFile(uintptr(fd), dir), openat2: true}, nil
}

// Close releases the root.
func (r *Root) Close() error { return r.f.Close() }

func (r *Root) fd() int { return int(r.f.Fd()) }

// resolve returns p (absolute in the container) with every symlink
// resolved inside the root, as "/a/b". Components that do not exist are
// kept as they are.
func (r *Root) resolve(p string) (string, error) {
	rest := strings.Split(path.Clean("/"+p), "/")
	var done []string
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := strings.Join(append(append([]string(nil), done...), c), "/")
		target, err := r.readlink(cand)
		if err != nil {
			// Missing or not a link: take it as it is.
			done = append(done, c)
			continue
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("resolve %s: %w", p, unix.ELOOP)
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return "/" + strings.Join(done, "/"), nil
}

// readlink reads the symlink at rel (relative to the root, its parents
// free of symlinks); an error if it is none.
func (r *Root) readlink(rel string) (string, error) {
	dir, base := path.Split(rel)
	pfd, err := r.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return "", err
	}
	defer unix.Close(pfd)
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(pfd, base, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// open opens p (relative to or absolute in the root) with flags, never
// leaving the root. The last component is followed unless flags has
// O_NOFOLLOW.
func (r *Root) open(p string, flags int) (int, error) {
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	flags |= unix.O_CLOEXEC
	if r.openat2 {
		for {
			fd, err := unix.Openat2(r.fd(), rel, &unix.OpenHow{
				Flags:   uint64(flags),
				Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
			})
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			if err == unix.ENOSYS {
				r.openat2 = false
				break
			}
			return fd, err
		}
	}
	return r.openWalk(rel, flags)
}

// openWalk is open without openat2: it resolves rel lexically in the root
// and then opens it one component at a time with O_NOFOLLOW, so a symlink
// that appeared after the resolution fails (ELOOP) instead of being
// followed.
func (r *Root) openWalk(rel string, flags int) (int, error) {
	if flags&unix.O_NOFOLLOW == 0 {
		res, err := r.resolve(rel)
		if err != nil {
			return -1, err
		}
		rel = strings.TrimLeft(res, "/")
	} else {
		dir, base := path.Split(rel)
		res, err := r.resolve(dir)
		if err != nil {
			return -1, err
		}
		rel = strings.TrimLeft(path.Join(res, base), "/")
	}
	cur, err := unix.Dup(r.fd())
	if err != nil {
		return -1, err
	}
	if rel == "" || rel == "." {
		defer unix.Close(cur)
		return unix.Openat(cur, ".", flags, 0)
	}
	parts := strings.Split(rel, "/")
	for i, c := range parts {
		f := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_DIRECTORY
		if i == len(parts)-1 {
			f = flags | unix.O_NOFOLLOW
		}
		next, err := unix.Openat(cur, c, f, 0)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}

// classify maps a system error to the package's errors.
func classify(p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s: %w", p, ErrNotFound)
	case errors.Is(err, unix.EROFS):
		return fmt.Errorf("%s: %w", p, ErrReadOnly)
	case errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s: %w", p, ErrNotDir)
	}
	return fmt.Errorf("%s: %w", p, err)
}

// absPath is docker's view of a requested path: absolute, cleaned, but
// with a trailing "/." or "/" kept.
func absPath(p string) string {
	a := path.Clean("/" + p)
	switch {
	case strings.HasSuffix(p, "/."):
		if a != "/" {
			a += "/"
		}
		a += "."
	case strings.HasSuffix(p, "/") && a != "/":
		a += "/"
	}
	return a
}
