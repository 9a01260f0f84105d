package tether

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/proto"
)

// volumeStage is where each volume disk is mounted once before it is bind
// mounted at its container paths.
const volumeStage = "/mnt/vol"

// mountVolumes mounts the volume disks and tmpfs mounts of c inside root,
// parents before children. dev gives the device node of a disk serial.
func mountVolumes(m *mountStack, root string, c *proto.Config, dev func(serial string) (string, error)) error {
	type item struct {
		path string
		vol  *proto.VolumeMount
		tmp  *proto.TmpfsMount
	}
	var items []item
	for i := range c.Volumes {
		items = append(items, item{path: c.Volumes[i].Path, vol: &c.Volumes[i]})
	}
	for i := range c.Tmpfs {
		items = append(items, item{path: c.Tmpfs[i].Path, tmp: &c.Tmpfs[i]})
	}
	sort.SliceStable(items, func(i, j int) bool {
		return strings.Count(filepath.Clean(items[i].path), "/") < strings.Count(filepath.Clean(items[j].path), "/")
	})
	staged := map[string]string{} // serial -> stage dir
	for _, it := range items {
		target, err := execspec.InRoot(root, it.path)
		if err != nil {
			return fmt.Errorf("mount %s: %w", it.path, err)
		}
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("mount point %s: %w", it.path, err)
		}
		if it.tmp != nil {
			flags, data := tmpfsOptions(it.tmp.Options)
			if err := m.mount("tmpfs", target, "tmpfs", flags, data); err != nil {
				return err
			}
			continue
		}
		v := it.vol
		key := v.Serial
		if v.Tag != "" {
			key = v.Tag
		}
		stage, ok := staged[key]
		if !ok {
			stage = filepath.Join(volumeStage, key)
			if v.Tag != "" {
				// A shared volume or host directory: the host's
				// virtiofsd serves it.
				if err := m.mount(v.Tag, stage, "virtiofs", unix.MS_NOATIME, ""); err != nil {
					return err
				}
			} else {
				d, err := dev(v.Serial)
				if err != nil {
					return err
				}
				if d == "" {
					return fmt.Errorf("volume disk %s for %s is missing", v.Serial, v.Path)
				}
				if err := m.mount(d, stage, "ext4", unix.MS_NOATIME, ""); err != nil {
					return err
				}
			}
			staged[key] = stage
			// mkfs leaves lost+found; a fresh docker volume is empty.
			lf := filepath.Join(stage, "lost+found")
			if empty, _ := isEmptyVolume(stage); empty && !v.HostDir {
				os.Remove(lf)
				if v.CopyImage {
					if err := copyTree(target, stage); err != nil {
						return fmt.Errorf("fill volume at %s from the image: %w", v.Path, err)
					}
				}
			}
		}
		if err := m.mount(stage, target, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		if v.ReadOnly {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("remount %s read-only: %w", v.Path, err)
			}
		}
	}
	return nil
}

// isEmptyVolume reports whether dir holds nothing but an empty lost+found.
func isEmptyVolume(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if e.Name() != "lost+found" {
			return false, nil
		}
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		if err != nil || len(sub) > 0 {
			return false, err
		}
	}
	return true, nil
}

// tmpfsOptions splits mount(8) options into flags and data. Docker's
// default for --tmpfs is noexec,nosuid,nodev; explicit options override.
func tmpfsOptions(opts string) (uintptr, string) {
	flags := uintptr(unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV)
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw":
			flags &^= unix.MS_RDONLY
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "noexec":
			flags |= unix.MS_NOEXEC
		case "suid":
			flags &^= unix.MS_NOSUID
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "dev":
			flags &^= unix.MS_NODEV
		case "nodev":
			flags |= unix.MS_NODEV
		case "noatime":
			flags |= unix.MS_NOATIME
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// copyTree copies the tree at src (if it exists) into dst, keeping modes,
// owners, times, symlinks and device nodes. Hard links become copies.
func copyTree(src, dst string) error {
	if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		mode := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if rel != "." {
				if err := os.Mkdir(out, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
					return err
				}
			}
		case unix.S_IFREG:
			if err := copyFile(p, out); err != nil {
				return err
			}
		case unix.S_IFLNK:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(t, out); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(out, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if err := unix.Lchown(out, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Chmod(out, mode); err != nil {
				return err
			}
		}
		ts := []unix.Timespec{st.Atim, st.Mtim}
		return unix.UtimesNanoAt(unix.AT_FDCWD, out, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
