package tether

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/etcfiles"
	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/proto"
)

// Mount points in the initramfs (portlayer/qemu/initramfs makes them).
const (
	imageMount = "/mnt/image"
	rwMount    = "/mnt/rw"
	emptyLower = "/mnt/empty"
	rootMount  = "/mnt/root"
)

// mountRoot builds the container root at rootMount: an overlayfs whose
// lower layer is the image disk (read-only) and whose upper and work dirs
// live on the rw disk (or a tmpfs if there is none). imageDev and rwDev may
// be empty.
func mountRoot(m *mountStack, imageDev, rwDev string) error {
	lower := emptyLower
	if imageDev != "" {
		if err := m.mount(imageDev, imageMount, "ext4", unix.MS_RDONLY, ""); err != nil {
			return err
		}
		lower = imageMount
	} else if err := os.MkdirAll(emptyLower, 0o755); err != nil {
		return err
	}
	if rwDev != "" {
		if err := m.mount(rwDev, rwMount, "ext4", unix.MS_NOATIME, ""); err != nil {
			return err
		}
	} else if err := m.mount("tmpfs", rwMount, "tmpfs", 0, "mode=0755"); err != nil {
		return err
	}
	upper, work := filepath.Join(rwMount, "upper"), filepath.Join(rwMount, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("rw layer: %w", err)
		}
	}
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	return m.mount("overlay", rootMount, "overlay", 0, data)
}

// mountInRoot mounts the pseudo file systems a container expects.
func mountInRoot(m *mountStack, root string) error {
	const nse = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, mt := range []struct {
		src, target, fstype string
		flags               uintptr
		data                string
	}{
		{"proc", "/proc", "proc", nse, ""},
		{"sysfs", "/sys", "sysfs", nse | unix.MS_RDONLY, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"shm", "/dev/shm", "tmpfs", nse, "mode=1777,size=65536k"},
	} {
		if err := m.mount(mt.src, filepath.Join(root, mt.target), mt.fstype, mt.flags, mt.data); err != nil {
			return err
		}
	}
	return nil
}

// writeEtc writes /etc/hostname, /etc/hosts and /etc/resolv.conf into the
// container root.
func writeEtc(root string, c *proto.Config) error {
	for _, f := range []struct{ path, content string }{
		{"/etc/hostname", etcfiles.Hostname(c)},
		{"/etc/hosts", etcfiles.Hosts(c)},
		{"/etc/resolv.conf", etcfiles.ResolvConf(c)},
	} {
		p, err := execspec.InRoot(root, f.path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		// Replace, not truncate: the image's file may be a hard link.
		os.Remove(p)
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}
