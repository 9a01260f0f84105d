// Package guestos holds what a guest's PID 1 does with the kernel that the
// tether (container VMs) and vch-appliance (the vSphere endpoint VM)
// share: loading the initramfs's modules (no modprobe there) and powering
// the VM off.
package guestos

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Initramfs layout (portlayer/qemu/initramfs and mkiso write it).
const (
	ModulesDir   = "/lib/modules"
	ModulesOrder = "/lib/modules/modules.order"
)

// ModuleOrder reads the load order at path (ModulesOrder); a missing
// file is no modules.
func ModuleOrder(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// LoadModules loads module files (names under dir) in order with
// finit_module; an already loaded module is fine.
func LoadModules(dir string, names []string, log *zap.Logger) error {
	for _, n := range names {
		p := filepath.Join(dir, filepath.Base(n))
		start := time.Now()
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("module %s: %w", n, err)
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", n, err)
		}
		log.Debug("module loaded", zap.String("module", n), zap.Duration("took", time.Since(start)), zap.Error(err))
	}
	return nil
}

// PowerOff syncs and powers the VM off (ACPI on ESXi and QEMU's pc
// machine). It never returns.
func PowerOff(log *zap.Logger) {
	unix.Sync()
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		log.Error("power off", zap.Error(err))
		time.Sleep(time.Second)
	}
}
