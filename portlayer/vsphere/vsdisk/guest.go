package vsdisk

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/scsidisk"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// LinuxGuest is the endpoint VM's side of a layer write: the PVSCSI
// controller's disks through sysfs (internal/scsidisk), mkfs.ext4,
// mount(2).
type LinuxGuest struct {
	// Sys is sysfs's mount point ("" is /sys), Dev devtmpfs's ("" is
	// /dev); TempDir holds the mount points ("" is os.TempDir()).
	Sys, Dev, TempDir string
	// Wait bounds the wait for a hot-added disk's device (0: a minute).
	Wait time.Duration
}

var _ Guest = LinuxGuest{}

// Device waits for the disk at target unit of the PVSCSI host, scanning
// for it when the controller's hot-add notice is slow.
func (g LinuxGuest) Device(ctx context.Context, unit int32) (string, func() error, error) {
	wait := g.Wait
	if wait <= 0 {
		wait = time.Minute
	}
	return scsidisk.PVSCSI{Sys: g.Sys, Dev: g.Dev}.Device(ctx, unit, wait)
}

// Format makes the layer's ext4 file system (no journal: a layer is
// written once).
func (g LinuxGuest) Format(ctx context.Context, dev string) error {
	return ext4.Format(ctx, dev, "")
}

// Mount mounts dev's ext4 on a new directory.
func (g LinuxGuest) Mount(ctx context.Context, dev string) (string, func() error, error) {
	dir, err := os.MkdirTemp(g.TempDir, "vch-layer-")
	if err != nil {
		return "", nil, err
	}
	if err := unix.Mount(dev, dir, "ext4", 0, ""); err != nil {
		_ = os.Remove(dir)
		return "", nil, fmt.Errorf("mount %s: %w", dev, err)
	}
	unmount := func() error {
		if fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			serr := unix.Syncfs(fd)
			unix.Close(fd)
			if serr != nil {
				return fmt.Errorf("sync %s: %w", dev, serr)
			}
		}
		if err := unix.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", dev, err)
		}
		return os.Remove(dir)
	}
	return dir, unmount, nil
}
