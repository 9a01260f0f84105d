package tether

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

// Initramfs layout (portlayer/qemu/initramfs writes it).
const (
	modulesDir   = "/lib/modules"
	modulesOrder = "/lib/modules/modules.order"
)

// moduleOrder reads the initramfs's module load order.
func moduleOrder() ([]string, error) {
	f, err := os.Open(modulesOrder)
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

// loadModules loads module files (names under /lib/modules) in order with
// finit_module; an already loaded module is fine.
func loadModules(names []string, log *zap.Logger) error {
	for _, n := range names {
		p := filepath.Join(modulesDir, filepath.Base(n))
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
