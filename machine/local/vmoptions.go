package local

import "fmt"

// MaxTCGTBSizeMB bounds --tcg-tb-size (QEMU's own ceiling is far higher,
// but a per-VM cache beyond this only costs memory).
const MaxTCGTBSizeMB = 2048

// validateVMOptions checks the container VM tuning options of create.
func validateVMOptions(o CreateOptions) error {
	if o.TCGTBSizeMB < 0 || o.TCGTBSizeMB > MaxTCGTBSizeMB {
		return fmt.Errorf("--tcg-tb-size %d: want 1 to %d MB (0: the default)", o.TCGTBSizeMB, MaxTCGTBSizeMB)
	}
	switch o.GuestMemory {
	case "", "anon", "memfd":
	default:
		return fmt.Errorf("--guest-memory %q: want anon or memfd", o.GuestMemory)
	}
	return nil
}
