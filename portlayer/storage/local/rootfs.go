package local

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/atomicfile"
)

// A root filesystem disk is shared by every container of its image, so a
// torn one would break them all. It is built in tmp/, fsynced, renamed into
// rootfs/ (and the directory fsynced), and then sealed: DISK.sum records its
// SHA-256 and length. A disk without a seal, or whose length disagrees, is
// removed when the store opens; its content is checked against the seal
// the first time this process uses it. Either way a bad disk is rebuilt
// from the stored layers on demand.

const sealSuffix = ".sum"

type seal struct {
	sum    string
	length int64
}

func readSeal(disk string) (seal, error) {
	b, err := os.ReadFile(disk + sealSuffix)
	if err != nil {
		return seal{}, err
	}
	var s seal
	if _, err := fmt.Sscan(string(b), &s.sum, &s.length); err != nil {
		return seal{}, fmt.Errorf("seal of %s: %w", disk, err)
	}
	return s, nil
}

func hashFile(path string) (seal, error) {
	f, err := os.Open(path)
	if err != nil {
		return seal{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return seal{}, err
	}
	return seal{sum: "sha256:" + hex.EncodeToString(h.Sum(nil)), length: n}, nil
}

// sealDisk records the disk's hash and length beside it.
func sealDisk(disk string) error {
	s, err := hashFile(disk)
	if err != nil {
		return fmt.Errorf("seal %s: %w", disk, err)
	}
	return atomicfile.WriteFile(disk+sealSuffix, []byte(fmt.Sprintf("%s %d\n", s.sum, s.length)), 0o644)
}

// checkDisk compares the disk with its seal.
func checkDisk(disk string) error {
	want, err := readSeal(disk)
	if err != nil {
		return err
	}
	got, err := hashFile(disk)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("root filesystem disk %s does not match its seal (%s, %d bytes; sealed %s, %d bytes)", disk, got.sum, got.length, want.sum, want.length)
	}
	return nil
}

// dropDisk removes a disk and what lies beside it.
func dropDisk(disk string) error {
	for _, p := range []string{disk, disk + ".size", disk + sealSuffix} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// sweepRootFS removes, at open, disks that a crash may have left torn:
// those without a seal or whose length is not the sealed one, and
// temporaries of atomic writes.
func (s *Store) sweepRootFS() error {
	dir := filepath.Join(s.root, "rootfs")
	if err := atomicfile.SweepTemps(dir); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ext4") {
			continue
		}
		disk := filepath.Join(dir, e.Name())
		sl, err := readSeal(disk)
		reason := ""
		switch fi, serr := os.Stat(disk); {
		case err != nil:
			reason = "no seal"
		case serr != nil:
			reason = serr.Error()
		case fi.Size() != sl.length:
			reason = fmt.Sprintf("%d bytes, sealed %d", fi.Size(), sl.length)
		}
		if reason == "" {
			continue
		}
		s.log.Warn("removing unsealed or torn root filesystem disk; it is rebuilt on next use", zap.String("disk", disk), zap.String("reason", reason))
		if err := dropDisk(disk); err != nil {
			return err
		}
	}
	return nil
}
