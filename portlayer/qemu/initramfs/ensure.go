package initramfs

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
)

// formatVersion changes whenever Build's output changes for the same
// inputs, so stale cached archives are not reused.
const formatVersion = "vch-initramfs-2"

// Ensure returns the path of an initramfs in dir for the tether binary at
// tetherPath and the kernel in kernelDir (kernel.DefaultModules), building it
// if no archive with the same content hash is there yet. The write is atomic
// (temp file, rename), so concurrent callers are safe.
func Ensure(dir, tetherPath, kernelDir string) (string, error) {
	return ensure(dir, tetherPath, kernelDir, kernel.DefaultModules)
}

// EnsureVSphere is Ensure for the bootstrap ISO of vSphere container VMs:
// kernel.VSphereModules load at boot too.
func EnsureVSphere(dir, tetherPath, kernelDir string) (string, error) {
	return ensure(dir, tetherPath, kernelDir, append(append([]string(nil), kernel.DefaultModules...), kernel.VSphereModules...))
}

func ensure(dir, tetherPath, kernelDir string, want []string) (string, error) {
	k, err := kernel.Find(kernelDir)
	if err != nil {
		return "", err
	}
	mods, err := k.Modules(want)
	if err != nil {
		return "", err
	}
	extra, err := onDemand(k, mods)
	if err != nil {
		return "", err
	}
	sum, err := contentHash(tetherPath, append(append([]kernel.Module(nil), mods...), extra...))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "initramfs-"+sum[:24]+".cpio")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".initramfs-*")
	if err != nil {
		return "", fmt.Errorf("initramfs cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	err = Build(bw, tetherPath, mods, extra)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = atomicfile.SyncDir(dir)
	}
	if err != nil {
		return "", fmt.Errorf("initramfs %s: %w", path, err)
	}
	return path, nil
}

// contentHash hashes everything that goes into the archive.
func contentHash(tetherPath string, mods []kernel.Module) (string, error) {
	h := sha256.New()
	io.WriteString(h, formatVersion+"\x00")
	add := func(name, src string) error {
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("initramfs %s: %w", name, err)
		}
		defer f.Close()
		io.WriteString(h, name+"\x00")
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("initramfs %s: %w", name, err)
		}
		return nil
	}
	if err := add(InitPath, tetherPath); err != nil {
		return "", err
	}
	for _, m := range mods {
		if err := add(m.FileName(), m.Path); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// onDemand resolves kernel.OnDemandModules, leaving out what mods (loaded
// at boot) already has.
func onDemand(k *kernel.Kernel, mods []kernel.Module) ([]kernel.Module, error) {
	all, err := k.Modules(kernel.OnDemandModules)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, m := range mods {
		have[m.Name] = true
	}
	var out []kernel.Module
	for _, m := range all {
		if !have[m.Name] {
			out = append(out, m)
		}
	}
	return out, nil
}
