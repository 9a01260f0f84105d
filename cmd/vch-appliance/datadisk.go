package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/scsidisk"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// The data disk (vice.DataDiskUnit of the endpoint's PVSCSI controller,
// which vic-machine create gives the endpoint VM, and upgrade an older
// one) holds vchd's root, so vchd's state outlives the VM's power cycles.
// The appliance formats it only when it is blank (a new thin disk: its
// first dataProbe bytes read as zeros), mounts an ext4 labelled
// vice.DataDiskLabel, and leaves anything else alone: vchd then runs on
// the initramfs's tmpfs, as it does on an endpoint VM without the disk.

// dataDiskWait bounds the wait for the data disk's block device at boot.
const dataDiskWait = 20 * time.Second

// dataProbe is how much of the disk's start is read to tell blank from
// not: every file system and partition table writes there.
const dataProbe = 1 << 20

// diskKind is what is on a data disk.
type diskKind int

const (
	diskBlank diskKind = iota // all zeros
	diskOurs                  // ext4 labelled vice.DataDiskLabel
	diskOther                 // anything else: never formatted, never mounted
)

// ext2/3/4 superblock: at byte 1024; its magic at 56, its label at 120.
const (
	sbOffset   = 1024
	sbMagic    = 56
	sbLabel    = 120
	sbLabelLen = 16
	ext4Magic  = 0xEF53
)

// probeDisk tells what is on the disk (or image file) dev.
func probeDisk(dev string) (diskKind, string, error) {
	f, err := os.Open(dev)
	if err != nil {
		return diskOther, "", err
	}
	defer f.Close()
	buf := make([]byte, dataProbe)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return diskOther, "", fmt.Errorf("read %s: %w", dev, err)
	}
	buf = buf[:n]
	if len(bytes.Trim(buf, "\x00")) == 0 {
		return diskBlank, "", nil
	}
	sb := sbOffset + sbLabel + sbLabelLen
	if n < sb || uint16(buf[sbOffset+sbMagic])|uint16(buf[sbOffset+sbMagic+1])<<8 != ext4Magic {
		return diskOther, "no ext4 file system, not blank", nil
	}
	label := string(bytes.TrimRight(buf[sbOffset+sbLabel:sb], "\x00"))
	if label != vice.DataDiskLabel {
		return diskOther, fmt.Sprintf("an ext4 file system labelled %q, not %q", label, vice.DataDiskLabel), nil
	}
	return diskOurs, "", nil
}

// prepareDataDisk makes dev's ext4 if dev is blank; it refuses a disk
// with anything else than the data disk's file system on it. formatted
// tells whether it made one.
func prepareDataDisk(ctx context.Context, dev string) (formatted bool, err error) {
	kind, why, err := probeDisk(dev)
	if err != nil {
		return false, err
	}
	switch kind {
	case diskOurs:
		return false, nil
	case diskBlank:
		if err := ext4.FormatJournaled(ctx, dev, vice.DataDiskLabel); err != nil {
			return false, err
		}
		return true, nil
	}
	return false, fmt.Errorf("%s holds %s: left as it is", dev, why)
}

// mountDataDisk finds the data disk, formats it if it is blank and mounts
// it on vchd's root; it returns the unmount to do at power off. Without a
// usable data disk it logs why, loudly, and returns nil: vchd keeps its
// state on the tmpfs, lost at the next power off.
func mountDataDisk(ctx context.Context, log *zap.Logger) func() error {
	warn := func(why string, err error) func() error {
		log.Error("NO DATA DISK: vchd keeps its state (image index, tags, container logs) on the appliance's tmpfs, lost at the next power off or restart; "+
			"upgrade the VCH with this vic-machine to give the endpoint VM its data disk", zap.String("why", why), zap.Error(err))
		return nil
	}
	dev, _, err := scsidisk.PVSCSI{}.Device(ctx, vice.DataDiskUnit, dataDiskWait)
	if err != nil {
		return warn("no disk at the data disk's SCSI address", err)
	}
	formatted, err := prepareDataDisk(ctx, dev)
	if err != nil {
		return warn("the data disk is not usable", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return warn("vchd's root", err)
	}
	// vic-machine configure and upgrade power the VM off hard: with
	// blocks allocated at write (nodelalloc) each commit, every second,
	// writes the data with the metadata (data=ordered), so a power off
	// loses at most the last second's writes, never a file's content
	// behind its size.
	if err := unix.Mount(dev, root, "ext4", unix.MS_NOATIME, "nodelalloc,commit=1"); err != nil {
		return warn("mount the data disk", fmt.Errorf("mount %s on %s: %w", dev, root, err))
	}
	if err := os.Chmod(root, 0o700); err != nil {
		log.Warn("vchd's root mode", zap.Error(err))
	}
	log.Info("data disk mounted: vchd's state is kept across restarts", zap.String("device", dev), zap.String("on", root), zap.Bool("formatted", formatted))
	return func() error {
		unix.Sync()
		if err := unix.Unmount(root, 0); err != nil {
			return fmt.Errorf("unmount the data disk from %s: %w", root, err)
		}
		return nil
	}
}
