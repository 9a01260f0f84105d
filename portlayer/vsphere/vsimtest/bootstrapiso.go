package vsimtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The bootstrap ISO of this checkout, built once per test binary.
var (
	isoOnce sync.Once
	isoPath string
	isoErr  error
)

// KernelDir is the guest kernel tree the bootstrap ISO is built from
// (scripts/fetch-kernel.sh's; make setup fetches it).
const KernelDir = "/var/cache/vch/kernel"

// BootstrapISO builds the tether (static) and, with cmd/mkiso, the
// bootstrap ISO of the checkout the test runs in (the guest kernel from
// KernelDir, Debian's ISOLINUX), once per test binary, and returns its
// host path (under the binary's TMPDIR: see Main).
func BootstrapISO(t *testing.T) string {
	t.Helper()
	isoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vch-bootstrap-iso-")
		if err != nil {
			isoErr = err
			return
		}
		tether := filepath.Join(dir, "tether")
		cmd := exec.Command("go", "build", "-trimpath", "-o", tether, "github.com/vchproject/vch/cmd/tether")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			isoErr = &buildError{err: err, out: string(out)}
			return
		}
		iso := filepath.Join(dir, "bootstrap.iso")
		cmd = exec.Command("go", "run", "github.com/vchproject/vch/cmd/mkiso", "bootstrap", "-o", iso, "-tether", tether, "-kernel-dir", KernelDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			isoErr = &buildError{err: err, out: string(out)}
			return
		}
		isoPath = iso
	})
	if isoErr != nil {
		t.Fatalf("build the bootstrap ISO: %v", isoErr)
	}
	return isoPath
}
