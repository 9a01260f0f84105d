package initramfs

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vchproject/vch/tether/proto"
)

// MkfsPath is where the vSphere bootstrap initramfs carries mke2fs.
var MkfsPath = strings.TrimPrefix(proto.VSphereMkfs, "/")

// hostMkfs is the host's mke2fs (e2fsprogs, which setup installs).
const hostMkfs = "/sbin/mke2fs"

// MkfsRootEnv names a directory that holds mke2fs and its libraries at
// their paths in the initramfs (scripts/docker-context.sh makes one for
// the Dockerfile build, whose image has neither mke2fs nor ldd); unset,
// the host's are taken.
const MkfsRootEnv = "VCH_MKFS_ROOT"

// MkfsFiles are the files that give the vSphere initramfs its mke2fs:
// the tree in $VCH_MKFS_ROOT, or the host's mke2fs, the libraries ldd
// names for it and /etc/mke2fs.conf.
func MkfsFiles() ([]File, error) {
	if root := os.Getenv(MkfsRootEnv); root != "" {
		var files []File
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return err
			}
			files = append(files, File{Name: filepath.ToSlash(rel), Src: real, Perm: 0o755})
			return nil
		})
		if err == nil && !slices.ContainsFunc(files, func(f File) bool { return f.Name == MkfsPath }) {
			err = fmt.Errorf("no %s in it", MkfsPath)
		}
		if err != nil {
			return nil, fmt.Errorf("initramfs: %s=%s: %w", MkfsRootEnv, root, err)
		}
		return files, nil
	}
	files, err := HostBinary(hostMkfs, MkfsPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat("/etc/mke2fs.conf"); err == nil {
		files = append(files, File{Name: "etc/mke2fs.conf", Src: "/etc/mke2fs.conf", Perm: 0o644})
	}
	return files, nil
}

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
