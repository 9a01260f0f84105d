package kernel

import "os"

// DefaultCacheDir is where scripts/fetch-kernel.sh puts the kernel unless
// told otherwise.
const DefaultCacheDir = "/var/cache/vch/kernel"

// DefaultDir is $VCH_KERNEL_DIR if set, else DefaultCacheDir.
func DefaultDir() string {
	if d := os.Getenv("VCH_KERNEL_DIR"); d != "" {
		return d
	}
	return DefaultCacheDir
}
