package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/errdefs"
)

// mountDir is where the host mounts a shared volume's file system, inside
// the volume's directory.
const mountDir = "fs"

// hostMount mounts the ext4 image disk (which only the host ever wrote
// blocks to) at dir unless something is mounted there already. The image
// is attached through util-linux mount's loop handling, which reuses a
// loop device that already backs the same file (for instance one that a
// virtiofsd of an earlier vchd still holds after the host unmounted it),
// so one file system never gets two superblocks.
func hostMount(ctx context.Context, disk, dir string) error {
	if ok, err := isMountPoint(dir); err != nil || ok {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	out, err := exec.CommandContext(ctx, "mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime", disk, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mount %s: %w: %s", disk, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostUnmount unmounts dir if it is a mount point. A busy file system is
// a conflict: something on the host still uses the volume.
func hostUnmount(dir string) error {
	ok, err := isMountPoint(dir)
	if err != nil || !ok {
		return err
	}
	if err := unix.Unmount(dir, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return errdefs.Conflict(fmt.Sprintf("unmount %s: the volume is busy on the host", dir))
		}
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// Unmount unmounts every volume file system that the host mounted in the
// store at path (vic-machine delete runs it before it removes or keeps
// the store). Deeper mounts go first.
func Unmount(path string) error {
	points, err := mountPoints()
	if err != nil {
		return err
	}
	root := filepath.Clean(VolumesDir(path)) + "/"
	var mine []string
	for _, p := range points {
		if strings.HasPrefix(p, root) {
			mine = append(mine, p)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return len(mine[i]) > len(mine[j]) })
	var errs []error
	for _, p := range mine {
		if err := unix.Unmount(p, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func isMountPoint(dir string) (bool, error) {
	points, err := mountPoints()
	if err != nil {
		return false, err
	}
	dir = filepath.Clean(dir)
	for _, p := range points {
		if p == dir {
			return true, nil
		}
	}
	return false, nil
}

// mountPoints lists the mount points of this mount namespace.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescapeMountinfo(fields[4]))
		}
	}
	return out, sc.Err()
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
