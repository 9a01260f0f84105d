package vsdisk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// LinuxGuest is the endpoint VM's side of a layer write: the PVSCSI
// controller's disks through sysfs, mkfs.ext4, mount(2).
type LinuxGuest struct {
	// Sys is sysfs's mount point ("" is /sys), Dev devtmpfs's ("" is
	// /dev); TempDir holds the mount points ("" is os.TempDir()).
	Sys, Dev, TempDir string
	// Wait bounds the wait for a hot-added disk's device (0: a minute).
	Wait time.Duration
}

var _ Guest = LinuxGuest{}

// pvscsiDriver is the PVSCSI driver's name in /sys/class/scsi_host/*/proc_name.
const pvscsiDriver = "vmw_pvscsi"

func (g LinuxGuest) sys(p ...string) string {
	root := g.Sys
	if root == "" {
		root = "/sys"
	}
	return filepath.Join(append([]string{root}, p...)...)
}

// pvscsiHost is the SCSI host number of the VM's PVSCSI controller.
func (g LinuxGuest) pvscsiHost() (int, error) {
	hosts, err := filepath.Glob(g.sys("class", "scsi_host", "host*"))
	if err != nil {
		return 0, err
	}
	found := -1
	for _, h := range hosts {
		b, err := os.ReadFile(filepath.Join(h, "proc_name"))
		if err != nil || strings.TrimSpace(string(b)) != pvscsiDriver {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(h), "host"))
		if err != nil {
			continue
		}
		if found >= 0 {
			return 0, fmt.Errorf("more than one %s SCSI host (host%d, host%d)", pvscsiDriver, found, n)
		}
		found = n
	}
	if found < 0 {
		return 0, fmt.Errorf("no %s SCSI host in %s", pvscsiDriver, g.sys("class", "scsi_host"))
	}
	return found, nil
}

// rescanEvery is how often a target whose device has not appeared is
// scanned for.
const rescanEvery = 2 * time.Second

// Device waits for the disk at target unit of the PVSCSI host, scanning
// for it when the controller's hot-add notice is slow.
func (g LinuxGuest) Device(ctx context.Context, unit int32) (string, func() error, error) {
	host, err := g.pvscsiHost()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("%d:0:%d:0", host, unit)
	scsiDev := g.sys("bus", "scsi", "devices", addr)
	wait := g.Wait
	if wait <= 0 {
		wait = time.Minute
	}
	deadline := time.Now().Add(wait)
	lastScan := time.Now()
	for {
		names, _ := filepath.Glob(filepath.Join(scsiDev, "block", "*"))
		if len(names) == 1 {
			dev := g.Dev
			if dev == "" {
				dev = "/dev"
			}
			dev = filepath.Join(dev, filepath.Base(names[0]))
			if _, err := os.Stat(dev); err == nil {
				release := func() error {
					if err := os.WriteFile(filepath.Join(scsiDev, "delete"), []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
						return fmt.Errorf("delete SCSI device %s: %w", addr, err)
					}
					return nil
				}
				return dev, release, nil
			}
		}
		if time.Now().After(deadline) {
			return "", nil, fmt.Errorf("no block device at SCSI %s after %s", addr, wait)
		}
		if time.Since(lastScan) >= rescanEvery {
			lastScan = time.Now()
			scan := g.sys("class", "scsi_host", fmt.Sprintf("host%d", host), "scan")
			if err := os.WriteFile(scan, []byte(fmt.Sprintf("0 %d 0", unit)), 0); err != nil {
				return "", nil, fmt.Errorf("scan SCSI %s: %w", addr, err)
			}
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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
