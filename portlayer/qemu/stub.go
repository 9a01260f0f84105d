package qemu

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vchproject/vch/internal/atomicfile"
)

// Stub boot files for clones.
//
// QEMU loads -kernel and -initrd into its own memory at start (fw_cfg
// blobs), for every VM: about 14 MiB of anonymous memory per process with
// Debian's cloud kernel. A clone never uses them, since the restore
// replaces guest RAM and CPU state, so clones are launched on stubs kept
// with the template: the kernel's own real-mode setup (so QEMU reads the
// same boot protocol header and builds the same option ROM and fw_cfg
// layout as for the template) followed by a page of zeros in place of the
// compressed kernel, and an initrd that is an empty newc archive.

// bzImage header fields (Documentation/arch/x86/boot.rst).
const (
	bzSetupSects = 0x1f1 // setup sectors after the boot sector; 0 means 4
	bzMagic      = 0x202 // "HdrS"
	bzHeaderEnd  = 0x280 // the header fits below this
	stubPayload  = 4096  // stand-in for the protected-mode kernel
)

// errNotBzImage is returned for a kernel file without a boot header.
var errNotBzImage = errors.New("not a bzImage (no HdrS boot header)")

// stubKernel returns a bzImage-shaped stub of the kernel at path.
func stubKernel(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("stub kernel: %w", err)
	}
	defer f.Close()
	hdr := make([]byte, bzHeaderEnd)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, fmt.Errorf("stub kernel: %s: %w", path, errNotBzImage)
	}
	if binary.LittleEndian.Uint32(hdr[bzMagic:]) != 0x53726448 {
		return nil, fmt.Errorf("stub kernel: %s: %w", path, errNotBzImage)
	}
	sects := int(hdr[bzSetupSects])
	if sects == 0 {
		sects = 4
	}
	setup := make([]byte, (sects+1)*512, (sects+1)*512+stubPayload)
	if _, err := f.ReadAt(setup, 0); err != nil {
		return nil, fmt.Errorf("stub kernel: %s: setup code: %w", path, err)
	}
	return append(setup, make([]byte, stubPayload)...), nil
}

// stubInitrd is an empty newc cpio archive (its trailer alone), padded to
// 512 bytes.
func stubInitrd() []byte {
	const name = "TRAILER!!!\x00"
	// magic, then ino mode uid gid nlink mtime filesize devmajor devminor
	// rdevmajor rdevminor namesize check, 8 hex digits each.
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name), 0)
	b := append([]byte(h), name...)
	return append(b, make([]byte, 512-len(b))...)
}

// writeStubs writes the clones' stub kernel and initrd into a template
// directory and returns their sha256 by file name (for the manifest).
func writeStubs(dir, kernel string) (map[string]string, error) {
	k, err := stubKernel(kernel)
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for name, b := range map[string][]byte{tplKernel: k, tplInitrd: stubInitrd()} {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("stub %s: %w", name, err)
		}
		s := sha256.Sum256(b)
		sums[name] = hex.EncodeToString(s[:])
	}
	return sums, nil
}
