package tether

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"os"
	"testing"
)

func TestRandPoolInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seed    []byte
		credit  int
		wantLen int
	}{
		{"whole words", bytes.Repeat([]byte{0xab}, 64), 512, 8 + 64},
		{"padded", []byte{1, 2, 3, 4, 5}, 40, 8 + 8},
		{"no credit", []byte{9}, 0, 8 + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := randPoolInfo(tc.seed, tc.credit)
			if len(b) != tc.wantLen {
				t.Fatalf("length %d, want %d", len(b), tc.wantLen)
			}
			if got := int32(binary.NativeEndian.Uint32(b[0:])); got != int32(tc.credit) {
				t.Fatalf("entropy_count %d, want %d", got, tc.credit)
			}
			if got := int32(binary.NativeEndian.Uint32(b[4:])); got != int32(len(tc.seed)) {
				t.Fatalf("buf_size %d, want %d", got, len(tc.seed))
			}
			if !bytes.Equal(b[8:8+len(tc.seed)], tc.seed) || !bytes.Equal(b[8+len(tc.seed):], make([]byte, len(b)-8-len(tc.seed))) {
				t.Fatalf("buffer %x", b[8:])
			}
		})
	}
}

// TestSeedKernelRNG makes the real ioctls on this host's /dev/urandom. It
// credits no entropy (mixing bytes in without credit changes nothing the
// host relies on) and needs CAP_SYS_ADMIN, as PID 1 in a guest has.
func TestSeedKernelRNG(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RNDADDENTROPY needs root (CAP_SYS_ADMIN)")
	}
	seed := make([]byte, 64)
	if _, err := rand.Read(seed); err != nil {
		t.Fatal(err)
	}
	if err := seedKernelRNG(randomDevice, seed, 0); err != nil {
		t.Fatal(err)
	}
	if err := seedKernelRNG(randomDevice, nil, 0); err != nil {
		t.Fatalf("an empty seed must be a no-op: %v", err)
	}
	if err := seedKernelRNG("/dev/null", seed, 0); err == nil {
		t.Fatal("the ioctl on /dev/null succeeded")
	}
}
