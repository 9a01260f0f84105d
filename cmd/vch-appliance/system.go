package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/guestos"
)

// mountAll mounts the kernel's file systems and the tmpfs ones.
func mountAll() error {
	for _, m := range []struct {
		src, dst, fstype string
		flags            uintptr
		data             string
	}{
		{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
		{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
		if err := unix.Mount(m.src, m.dst, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	return nil
}

// loadModules loads the modules listed in the initramfs's modules.order,
// in order (finit_module; the initramfs has no modprobe).
func loadModules(log *zap.Logger) error {
	order, err := guestos.ModuleOrder(guestos.ModulesOrder)
	if err != nil {
		return err
	}
	return guestos.LoadModules(guestos.ModulesDir, order, log)
}

// keyPower is the power button's key code (linux/input-event-codes.h);
// evKey the event type of keys.
const (
	evKey    = 1
	keyPower = 116
)

// watchPowerButton reports on pressed when an input device (the ACPI
// power button, through the button and evdev modules) sends a power key
// press. The devices are those under /dev/input when it is called (it
// waits up to wait for the first to appear).
func watchPowerButton(pressed chan<- struct{}, wait time.Duration, log *zap.Logger) {
	var devs []string
	for deadline := time.Now().Add(wait); ; {
		devs, _ = filepath.Glob("/dev/input/event*")
		if len(devs) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(devs) == 0 {
		log.Warn("no input device: the ACPI power button does not shut the appliance down (SIGTERM still does)")
		return
	}
	for _, d := range devs {
		f, err := os.Open(d)
		if err != nil {
			log.Warn("input device", zap.String("device", d), zap.Error(err))
			continue
		}
		go func() {
			defer f.Close()
			// struct input_event on 64-bit: timeval (16), type, code
			// (uint16 each), value (int32).
			ev := make([]byte, 24)
			for {
				if _, err := io.ReadFull(f, ev); err != nil {
					return
				}
				typ, code := binary.LittleEndian.Uint16(ev[16:]), binary.LittleEndian.Uint16(ev[18:])
				if typ == evKey && code == keyPower && binary.LittleEndian.Uint32(ev[20:]) == 1 {
					select {
					case pressed <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	log.Debug("watching the power button", zap.Strings("devices", devs))
}
