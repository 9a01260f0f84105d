package local

import "fmt"

// MaxTCGTBSizeMB bounds --tcg-tb-size (QEMU's own ceiling is far higher,
// but a per-VM cache beyond this only costs memory).
const MaxTCGTBSizeMB = 2048

// validateVMOptions checks the container VM tuning options of create.
func validateVMOptions(o CreateOptions) error {
	if err := validateTBSize("--tcg-tb-size", o.TCGTBSizeMB); err != nil {
		return err
	}
	if err := validateTBSize("--tcg-tb-size-clones", o.TCGTBSizeClonesMB); err != nil {
		return err
	}
	switch o.GuestMemory {
	case "", "anon", "memfd":
	default:
		return fmt.Errorf("--guest-memory %q: want anon or memfd", o.GuestMemory)
	}
	return nil
}

// validateTBSize checks a translation cache size option.
func validateTBSize(flag string, mb int) error {
	if mb < 0 || mb > MaxTCGTBSizeMB {
		return fmt.Errorf("%s %d: want 1 to %d MB (0: the default)", flag, mb, MaxTCGTBSizeMB)
	}
	return nil
}
