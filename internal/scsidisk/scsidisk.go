// Package scsidisk finds, from inside a VM, the block device of a disk on
// the VM's PVSCSI controller by its SCSI address: the controller's SCSI
// host (the one whose driver is vmw_pvscsi), channel 0, target = the
// disk's unit number on the controller, LUN 0, as sysfs shows it
// (/sys/bus/scsi/devices/H:0:T:0/block/NAME). vchd's layer writer
// (portlayer/vsphere/vsdisk) finds the layer disks it hot-adds to the
// endpoint VM so, and the appliance (cmd/vch-appliance) its data disk.
package scsidisk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PVSCSI is the VM's PVSCSI controller as the guest's kernel shows it.
type PVSCSI struct {
	// Sys is sysfs's mount point ("" is /sys), Dev devtmpfs's ("" is
	// /dev).
	Sys, Dev string
}

// driver is the PVSCSI driver's name in /sys/class/scsi_host/*/proc_name.
const driver = "vmw_pvscsi"

func (p PVSCSI) sys(elem ...string) string {
	root := p.Sys
	if root == "" {
		root = "/sys"
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// Host is the SCSI host number of the VM's PVSCSI controller; a VM with
// none, or with more than one, is an error.
func (p PVSCSI) Host() (int, error) {
	hosts, err := filepath.Glob(p.sys("class", "scsi_host", "host*"))
	if err != nil {
		return 0, err
	}
	found := -1
	for _, h := range hosts {
		b, err := os.ReadFile(filepath.Join(h, "proc_name"))
		if err != nil || strings.TrimSpace(string(b)) != driver {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(h), "host"))
		if err != nil {
			continue
		}
		if found >= 0 {
			return 0, fmt.Errorf("more than one %s SCSI host (host%d, host%d)", driver, found, n)
		}
		found = n
	}
	if found < 0 {
		return 0, fmt.Errorf("no %s SCSI host in %s", driver, p.sys("class", "scsi_host"))
	}
	return found, nil
}

// rescanEvery is how often a target whose device has not appeared is
// scanned for.
const rescanEvery = 2 * time.Second

// Device waits up to wait for the block device of the disk at target
// unit of the PVSCSI host, asking the host to scan that target when the
// controller's notice is slow (a hot-added disk) or the boot's scan has
// not reached it yet. It returns the device's path in /dev and release,
// which deletes the SCSI device from the guest (before the disk is
// hot-removed).
func (p PVSCSI) Device(ctx context.Context, unit int32, wait time.Duration) (string, func() error, error) {
	host, err := p.Host()
	if err != nil {
		return "", nil, err
	}
	addr := fmt.Sprintf("%d:0:%d:0", host, unit)
	scsiDev := p.sys("bus", "scsi", "devices", addr)
	deadline := time.Now().Add(wait)
	lastScan := time.Now()
	for {
		names, _ := filepath.Glob(filepath.Join(scsiDev, "block", "*"))
		if len(names) == 1 {
			dev := p.Dev
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
			scan := p.sys("class", "scsi_host", fmt.Sprintf("host%d", host), "scan")
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
