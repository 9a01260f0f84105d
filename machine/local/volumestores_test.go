package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vchproject/vch/machine/vchconfig"
)

func TestParseVolumeStore(t *testing.T) {
	for in, want := range map[string]vchconfig.VolumeStore{
		"/var/lib/vols:default": {Path: "/var/lib/vols", Label: "default"},
		"/a:b/c:other":          {Path: "/a:b/c", Label: "other"},
		"/x/../y/:fast_1":       {Path: "/y", Label: "fast_1"},
	} {
		got, err := ParseVolumeStore(in)
		if err != nil || got != want {
			t.Errorf("ParseVolumeStore(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/only/path", "/p:", ":label", "rel:default", "/p:bad label", "/p:-x"} {
		if _, err := ParseVolumeStore(in); err == nil {
			t.Errorf("ParseVolumeStore(%q) accepted", in)
		}
	}
}

func TestPrepareVolumeStores(t *testing.T) {
	root := t.TempDir()
	got, err := prepareVolumeStores(root, nil)
	if err != nil || len(got) != 1 || got[0].Label != "default" || got[0].Path != filepath.Join(root, "volumes") {
		t.Fatalf("default store: %+v %v", got, err)
	}
	a := filepath.Join(root, "a")
	if _, err := prepareVolumeStores(root, []vchconfig.VolumeStore{{Path: a, Label: "x"}, {Path: filepath.Join(root, "b"), Label: "x"}}); err == nil {
		t.Fatal("duplicate labels accepted")
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Fatalf("refused stores made %s", a)
	}
}
