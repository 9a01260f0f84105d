// Package ext4 makes ext4 disk images with e2fsprogs' mkfs.ext4, either
// empty (a container's writable layer) or filled from a directory (an
// image's read-only root filesystem). The images are sparse files.
package ext4

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Make creates the ext4 image path of size bytes. If fromDir is not empty
// the file system is populated from it (mkfs.ext4 -d), keeping owners,
// modes, device nodes and extended attributes. A failed Make removes path.
func Make(ctx context.Context, path string, size int64, fromDir, label string) (err error) {
	if size < 8<<20 {
		size = 8 << 20
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create disk %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("size disk %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The file is new and sparse, so all zeros: assume_storage_prezeroed
	// (e2fsprogs 1.47) marks every inode table zeroed without writing
	// it, so neither mkfs nor the guest kernel's lazy init thread fills
	// them (an 8 GB layer stays about 4 MB on disk instead of growing
	// by about 130 MB at its first mount). Older e2fsprogs get the lazy
	// options, and the guest then zeroes the tables in the background.
	extended := "assume_storage_prezeroed=1,nodiscard"
	if !prezeroedSupported(ctx) {
		extended = "lazy_itable_init=1,lazy_journal_init=1,nodiscard"
	}
	args := []string{"-q", "-F", "-t", "ext4", "-m", "0", "-E", extended}
	if label != "" {
		args = append(args, "-L", label)
	}
	if fromDir != "" {
		// A read-only image needs no journal.
		args = append(args, "-O", "^has_journal", "-d", fromDir)
	}
	args = append(args, path, strconv.FormatInt(size/1024, 10)+"k")
	out, err := exec.CommandContext(ctx, "mkfs.ext4", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", path, err, out)
	}
	return nil
}

// Format makes an empty ext4 file system without a journal on the block
// device dev, which must read as zeros (a new thin disk): its inode
// tables are marked zeroed, not written. An image layer's base disk is
// formatted so, then filled once and only read after.
func Format(ctx context.Context, dev, label string) error {
	return format(ctx, dev, label, false)
}

// FormatJournaled is Format with a journal: a file system written all
// along and mounted at every boot (the endpoint VM's data disk), which a
// power cut must leave consistent.
func FormatJournaled(ctx context.Context, dev, label string) error {
	return format(ctx, dev, label, true)
}

func format(ctx context.Context, dev, label string, journal bool) error {
	extended := "assume_storage_prezeroed=1,nodiscard"
	if !prezeroedSupported(ctx) {
		extended = "lazy_itable_init=1,lazy_journal_init=1,nodiscard"
	}
	args := []string{"-q", "-F", "-t", "ext4", "-m", "0", "-E", extended}
	if !journal {
		args = append(args, "-O", "^has_journal")
	}
	if label != "" {
		args = append(args, "-L", label)
	}
	if out, err := exec.CommandContext(ctx, "mkfs.ext4", append(args, dev)...).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", dev, err, out)
	}
	return nil
}

var (
	prezeroedOnce sync.Once
	prezeroedOK   bool
)

// prezeroedSupported tells whether this mkfs.ext4 knows
// assume_storage_prezeroed (e2fsprogs >= 1.47); its -V prints the version.
func prezeroedSupported(ctx context.Context) bool {
	prezeroedOnce.Do(func() {
		out, _ := exec.CommandContext(ctx, "mkfs.ext4", "-V").CombinedOutput()
		var major, minor int
		for _, f := range strings.Fields(string(out)) {
			if _, err := fmt.Sscanf(f, "%d.%d", &major, &minor); err == nil {
				break
			}
		}
		prezeroedOK = major > 1 || (major == 1 && minor >= 47)
	})
	return prezeroedOK
}
