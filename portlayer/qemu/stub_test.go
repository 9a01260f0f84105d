package qemu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fakeBzImage is a file with a bzImage boot header: setupSects setup
// sectors after the boot sector (0 meaning 4), then payload bytes of 0xAA.
func fakeBzImage(setupSects byte, payload int) []byte {
	n := int(setupSects)
	if n == 0 {
		n = 4
	}
	b := make([]byte, (n+1)*512)
	for i := range b {
		b[i] = byte(i)
	}
	b[bzSetupSects] = setupSects
	binary.LittleEndian.PutUint32(b[bzMagic:], 0x53726448)
	binary.LittleEndian.PutUint16(b[0x206:], 0x20f)
	return append(b, bytes.Repeat([]byte{0xAA}, payload)...)
}

// TestStubKernel: the stub keeps the kernel's boot sector and setup code
// byte for byte and replaces the protected-mode kernel with a page of
// zeros; a file without a boot header is refused.
func TestStubKernel(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		sects byte
		setup int // bytes of boot sector and setup code kept
	}{
		{"39 setup sectors", 39, 40 * 512},
		{"0 means 4", 0, 5 * 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kernel := fakeBzImage(tc.sects, 3<<20)
			path := filepath.Join(dir, "vmlinuz")
			if err := os.WriteFile(path, kernel, 0o600); err != nil {
				t.Fatal(err)
			}
			stub, err := stubKernel(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(stub) != tc.setup+stubPayload {
				t.Fatalf("stub is %d bytes, want %d", len(stub), tc.setup+stubPayload)
			}
			if !bytes.Equal(stub[:tc.setup], kernel[:tc.setup]) {
				t.Fatal("the stub's setup code differs from the kernel's")
			}
			if !bytes.Equal(stub[tc.setup:], make([]byte, stubPayload)) {
				t.Fatal("the stub's payload is not zeros")
			}
		})
	}
	notKernel := filepath.Join(dir, "initrd")
	if err := os.WriteFile(notKernel, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := stubKernel(notKernel); !errors.Is(err, errNotBzImage) {
		t.Fatalf("stub of a file without a boot header: %v, want errNotBzImage", err)
	}
}

// TestStubInitrd: the stub initrd is one newc trailer record.
func TestStubInitrd(t *testing.T) {
	b := stubInitrd()
	if len(b) != 512 || !bytes.HasPrefix(b, []byte("070701")) {
		t.Fatalf("stub initrd: %d bytes, %q", len(b), b[:6])
	}
	// namesize is the 12th field; the name follows the 110-byte header.
	if got := string(b[6+11*8 : 6+12*8]); got != "0000000B" {
		t.Fatalf("namesize %q, want 0000000B", got)
	}
	if got := string(b[110:121]); got != "TRAILER!!!\x00" {
		t.Fatalf("name %q", got)
	}
}
