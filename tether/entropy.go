package tether

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// randomDevice is where the kernel's random ioctls are made.
const randomDevice = "/dev/urandom"

// seedKernelRNG mixes seed (host entropy sent in the config) into the
// kernel's input pool, credits it as creditBits of entropy and makes the
// CRNG reseed from the pool at once, so everything read from /dev/urandom,
// getrandom(2) or the lazily made boot_id afterwards depends on the
// host's bytes. A VM restored from a saved template would otherwise
// produce the same stream as every other clone of that template. It needs
// CAP_SYS_ADMIN (PID 1 has it).
func seedKernelRNG(dev string, seed []byte, creditBits int) error {
	if len(seed) == 0 {
		return nil
	}
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("seed RNG: %w", err)
	}
	defer f.Close()
	info := randPoolInfo(seed, creditBits)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); e != 0 {
		return fmt.Errorf("seed RNG: RNDADDENTROPY: %w", e)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDRESEEDCRNG, 0); e != 0 {
		return fmt.Errorf("seed RNG: RNDRESEEDCRNG: %w", e)
	}
	return nil
}

// randPoolInfo encodes the kernel's struct rand_pool_info
// { int entropy_count; int buf_size; __u32 buf[]; } in native byte order,
// the buffer padded to whole 32-bit words.
func randPoolInfo(seed []byte, creditBits int) []byte {
	words := (len(seed) + 3) / 4
	b := make([]byte, 8+4*words)
	binary.NativeEndian.PutUint32(b[0:], uint32(int32(creditBits)))
	binary.NativeEndian.PutUint32(b[4:], uint32(int32(len(seed))))
	copy(b[8:], seed)
	return b
}
