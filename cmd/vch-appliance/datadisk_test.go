package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// disk makes a sparse image file of 64 MiB with data at its start.
func disk(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, 64<<20); err != nil {
		t.Fatal(err)
	}
	return p
}

// superblock is the ext4 superblock's bytes (with its UUID).
func superblock(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b[sbOffset : sbOffset+1024]
}

// TestPrepareDataDisk: a blank disk is formatted ext4 with the data
// disk's label, once: a second boot finds it and keeps it as it is (the
// superblock, UUID and all, unchanged). A disk with anything else on it,
// another file system or an ext4 of another label (a layer disk), is
// refused and left byte for byte as it was.
func TestPrepareDataDisk(t *testing.T) {
	ctx := context.Background()
	blank := disk(t, nil)
	if kind, _, err := probeDisk(blank); err != nil || kind != diskBlank {
		t.Fatalf("a blank disk probes as %d (%v)", kind, err)
	}
	formatted, err := prepareDataDisk(ctx, blank)
	if err != nil || !formatted {
		t.Fatalf("a blank disk: formatted %v (%v)", formatted, err)
	}
	if kind, why, err := probeDisk(blank); err != nil || kind != diskOurs {
		t.Fatalf("the formatted disk probes as %d %q (%v)", kind, why, err)
	}
	sb := bytes.Clone(superblock(t, blank))
	formatted, err = prepareDataDisk(ctx, blank)
	if err != nil || formatted {
		t.Fatalf("the data disk at the next boot: formatted %v (%v)", formatted, err)
	}
	if !bytes.Equal(sb, superblock(t, blank)) {
		t.Fatal("the data disk's superblock changed at the next boot")
	}

	layer := disk(t, nil)
	if err := ext4.Format(ctx, layer, ""); err != nil {
		t.Fatal(err)
	}
	junk := disk(t, []byte("\x00\x00\x00\x00not a file system, but not blank"))
	for name, p := range map[string]string{"an unlabelled ext4": layer, "junk": junk} {
		before, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if kind, _, err := probeDisk(p); err != nil || kind != diskOther {
			t.Errorf("%s probes as %d (%v)", name, kind, err)
		}
		if formatted, err := prepareDataDisk(ctx, p); err == nil || formatted {
			t.Errorf("%s: formatted %v (%v)", name, formatted, err)
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
			t.Errorf("%s changed", name)
		}
	}
}
