package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/machine/vchconfig"
)

// Configure refuses bad settings before it touches anything, and a
// configure that changes nothing restarts nothing.
func TestConfigureValidates(t *testing.T) {
	state := t.TempDir()
	root := filepath.Join(state, "v1")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := &vchconfig.Config{Name: "v1", Root: root, APIAddr: "127.0.0.1:1",
		VolumeStores: []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes"), Label: "default"}},
		Registry:     vchconfig.Registry{Whitelist: []string{"reg.example.com"}}}
	if err := cfg.Save(vchconfig.Path(root)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(vchconfig.Path(root))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		o    ConfigureOptions
		want string
	}{
		{"bad whitelist", ConfigureOptions{Whitelist: []string{"reg*.com"}}, "--whitelist-registry"},
		{"bad mirror", ConfigureOptions{Mirrors: []string{"mirror.example.com"}}, "--registry-mirror"},
		{"missing CA", ConfigureOptions{RegistryCAs: []string{filepath.Join(state, "nope.pem")}}, "--registry-ca"},
		{"not a CA", ConfigureOptions{RegistryCAs: []string{vchconfig.Path(root)}}, "holds no PEM certificate"},
		{"moved store", ConfigureOptions{VolumeStores: []vchconfig.VolumeStore{{Path: filepath.Join(state, "elsewhere"), Label: "default"}}}, "cannot change"},
		{"shared path", ConfigureOptions{VolumeStores: []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes"), Label: "other"}}}, "share the path"},
		{"unknown VCH", ConfigureOptions{Name: "nope"}, "not found"},
		{"negative clones tb size", ConfigureOptions{TCGTBSizeClonesMB: ptr(-1)}, "--tcg-tb-size-clones"},
		{"huge clones tb size", ConfigureOptions{TCGTBSizeClonesMB: ptr(MaxTCGTBSizeMB + 1)}, "--tcg-tb-size-clones"},
	} {
		o := c.o
		o.StateDir = state
		if o.Name == "" {
			o.Name = "v1"
		}
		changed, err := Configure(context.Background(), o)
		if err == nil || changed || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: changed %v, err %v; want an error with %q", c.name, changed, err, c.want)
		}
		if after, _ := os.ReadFile(vchconfig.Path(root)); string(after) != string(before) {
			t.Fatalf("%s changed the config", c.name)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "elsewhere")); !os.IsNotExist(err) {
		t.Fatalf("a refused store was made: %v", err)
	}
	// The same settings again: nothing to do (no vchd is started). The
	// config has no templates field, which means on: --vm-templates
	// changes nothing either.
	changed, err := Configure(context.Background(), ConfigureOptions{Name: "v1", StateDir: state, Whitelist: []string{"reg.example.com"},
		VolumeStores:      []vchconfig.VolumeStore{{Path: filepath.Join(root, "volumes") + "/", Label: "default"}},
		TCGTBSizeClonesMB: ptr(0), Templates: ptr(true)})
	if err != nil || changed {
		t.Fatalf("unchanged configure: changed %v, %v", changed, err)
	}
}

func ptr[T any](v T) *T { return &v }
