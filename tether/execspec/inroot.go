package execspec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink expansion like the kernel's ELOOP limit.
const maxSymlinks = 40

// InRoot resolves p (absolute or relative to /) inside root, following
// symlinks as a process chrooted into root would, and returns the host path.
// Components that do not exist are kept lexically, so the result can be
// created. Only symlink loops are errors.
func InRoot(root, p string) (string, error) {
	rest := strings.Split(path.Clean("/"+p), "/")
	var done []string // resolved components below root
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
		host := filepath.Join(root, filepath.Join(done...), c)
		st, err := os.Lstat(host)
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			// Missing or not a link: take it as it is.
			done = append(done, c)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolve %s in container: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", fmt.Errorf("resolve %s in container: %w", p, err)
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return filepath.Join(root, filepath.Join(done...)), nil
}

// ReadFileInRoot reads the file at p inside root. A missing file is
// reported with fs.ErrNotExist in the chain.
func ReadFileInRoot(root, p string) ([]byte, error) {
	host, err := InRoot(root, p)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(host)
	if err != nil && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
	}
	return b, err
}
