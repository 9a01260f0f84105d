package tether

import (
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// mountStack remembers what was mounted so shutdown can unmount it in
// reverse order.
type mountStack struct {
	points []string
}

// mount creates target if needed and mounts; on success target is pushed.
func (m *mountStack) mount(source, target, fstype string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", source, fstype, target, err)
	}
	m.points = append(m.points, target)
	return nil
}

// unmountAll unmounts everything in reverse order; a busy mount is
// detached so the rest can still be unmounted cleanly.
func (m *mountStack) unmountAll(log *zap.Logger) error {
	var errs []error
	for i := len(m.points) - 1; i >= 0; i-- {
		p := m.points[i]
		if err := unix.Unmount(p, 0); err != nil {
			log.Warn("unmount failed, detaching", zap.String("path", p), zap.Error(err))
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
			unix.Unmount(p, unix.MNT_DETACH)
		}
	}
	m.points = nil
	return errors.Join(errs...)
}

// mountEarly mounts what the tether itself needs in the initramfs root.
// These are never unmounted.
func mountEarly() error {
	var m mountStack
	for _, mt := range []struct {
		src, target, fstype string
		flags               uintptr
		data                string
	}{
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0620,ptmxmode=0666"},
	} {
		if err := m.mount(mt.src, mt.target, mt.fstype, mt.flags, mt.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return err
		}
	}
	return nil
}
