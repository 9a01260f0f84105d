package guestos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"
)

func TestModuleOrder(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "modules.order")
	if err := os.WriteFile(p, []byte("a.ko\n\n  b.ko \nc.ko"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ModuleOrder(p)
	if err != nil || strings.Join(got, ",") != "a.ko,b.ko,c.ko" {
		t.Fatalf("order %q %v", got, err)
	}
	if got, err := ModuleOrder(filepath.Join(dir, "none")); err != nil || got != nil {
		t.Fatalf("no order file: %q %v", got, err)
	}
	// A module file that is not there is an error naming it (nothing is
	// loaded into this host's kernel).
	if err := LoadModules(dir, []string{"missing.ko"}, zaptest.NewLogger(t)); err == nil || !strings.Contains(err.Error(), "missing.ko") {
		t.Fatalf("missing module: %v", err)
	}
}
