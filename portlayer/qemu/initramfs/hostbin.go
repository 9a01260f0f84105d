package initramfs

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/tether/proto"
)

// MkfsPath is where the vSphere bootstrap initramfs carries mke2fs.
var MkfsPath = strings.TrimPrefix(proto.VSphereMkfs, "/")

// hostMkfs is the host's mke2fs (e2fsprogs, which setup installs).
const hostMkfs = "/sbin/mke2fs"

// HostBinary returns the files that run the host's dynamically linked
// binary src in the initramfs at name: the binary and the libraries and
// loader ldd names, each at its host path (the guest runs the host's
// architecture and C library).
func HostBinary(src, name string) ([]File, error) {
	out, err := exec.Command("ldd", src).Output()
	if err != nil {
		return nil, fmt.Errorf("initramfs: ldd %s: %w", src, err)
	}
	files := []File{{Name: name, Src: src, Perm: 0o755}}
	libs, err := parseLdd(string(out))
	if err != nil {
		return nil, fmt.Errorf("initramfs: ldd %s: %w", src, err)
	}
	for _, l := range libs {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			return nil, fmt.Errorf("initramfs: %s needs %s: %w", src, l, err)
		}
		files = append(files, File{Name: strings.TrimPrefix(l, "/"), Src: real, Perm: 0o755})
	}
	return files, nil
}

// parseLdd returns the absolute library paths of ldd's output (the vDSO
// has none).
func parseLdd(out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>":
			if f[2] == "not" {
				return nil, fmt.Errorf("%s not found", f[0])
			}
			if strings.HasPrefix(f[2], "/") {
				libs = append(libs, f[2])
			}
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0]) // the loader
		}
	}
	return libs, nil
}
