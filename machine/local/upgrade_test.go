package local

import (
	"os"
	"path/filepath"
	"testing"
)

// A VCH rolled back to the vchd its last upgrade kept goes on running
// that vchd; any other VCH runs the installation's.
func TestVCHDFor(t *testing.T) {
	state := t.TempDir()
	root := filepath.Join(state, "v")
	keep := filepath.Join(root, upgradeDir)
	if err := os.MkdirAll(keep, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "version"), "2.0\n")
	if got := VCHDFor(state, "v", "/inst/vchd", "2.0"); got != "/inst/vchd" {
		t.Errorf("current VCH: %s", got)
	}
	write(filepath.Join(keep, "version"), "1.0\n")
	write(filepath.Join(keep, "vchd"), "binary")
	if got := VCHDFor(state, "v", "/inst/vchd", "2.0"); got != "/inst/vchd" {
		t.Errorf("upgraded VCH: %s", got)
	}
	write(filepath.Join(root, "version"), "1.0\n")
	if got := VCHDFor(state, "v", "/inst/vchd", "2.0"); got != filepath.Join(keep, "vchd") {
		t.Errorf("rolled-back VCH: %s", got)
	}
	if got := VCHDFor(state, "other", "/inst/vchd", "2.0"); got != "/inst/vchd" {
		t.Errorf("unknown VCH: %s", got)
	}
}
