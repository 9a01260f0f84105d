package qemu

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// fileImagePin is a hard link to the image's root filesystem disk in the
// container directory. Docker keeps an image's layers while a container
// uses them, even after rmi -f removed the image; the link does the same
// for the shared disk: the store may unlink its name, the container keeps
// the file and can still start.
const fileImagePin = "image.ext4"

// pinImage links the image disk src into dir.
func pinImage(src, dir string) error {
	if err := os.Link(src, filepath.Join(dir, fileImagePin)); err != nil {
		return fmt.Errorf("pin image disk: %w", err)
	}
	return nil
}

// pinnedImage returns the container's pinned image disk, or "".
func pinnedImage(dir string) (string, error) {
	p := filepath.Join(dir, fileImagePin)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return "", err
	}
	return p, nil
}
