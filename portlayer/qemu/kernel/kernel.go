package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/errdefs"
)

// Kernel is a guest kernel on disk.
type Kernel struct {
	// Dir is the directory Find was given.
	Dir string
	// Vmlinuz is the kernel image, symlinks resolved.
	Vmlinuz string
	// ModulesDir is the lib/modules/<version> tree, symlinks resolved.
	ModulesDir string
	// Version is the kernel release, e.g. 6.1.0-48-cloud-amd64.
	Version string
}

// Find locates the kernel fetched into dir. It fails with an
// errdefs.ErrNotFound class error naming scripts/fetch-kernel.sh when dir
// does not hold one.
func Find(dir string) (*Kernel, error) {
	vmlinuz, err := filepath.EvalSymlinks(filepath.Join(dir, "vmlinuz"))
	if err != nil {
		return nil, notFetched(dir, err)
	}
	mods, err := filepath.EvalSymlinks(filepath.Join(dir, "modules"))
	if err != nil {
		return nil, notFetched(dir, err)
	}
	st, err := os.Stat(mods)
	if err != nil {
		return nil, notFetched(dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("kernel %s: modules is not a directory: %w", dir, errdefs.ErrFailedPrecondition)
	}
	k := &Kernel{Dir: dir, Vmlinuz: vmlinuz, ModulesDir: mods, Version: filepath.Base(mods)}
	if b, err := os.ReadFile(filepath.Join(dir, "version")); err == nil {
		if v := strings.TrimSpace(string(b)); v != "" {
			k.Version = v
		}
	}
	return k, nil
}

func notFetched(dir string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no guest kernel in %s (run scripts/fetch-kernel.sh %s): %w", dir, dir, errdefs.ErrNotFound)
	}
	return fmt.Errorf("guest kernel in %s: %w", dir, err)
}
