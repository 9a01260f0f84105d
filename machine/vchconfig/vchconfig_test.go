package vchconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"strings"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	c := &Config{Name: "v", Root: dir, APIAddr: "127.0.0.1:2376", MemoryMB: 256,
		TCGTBSizeMB: 16, TCGTBSizeClonesMB: 8, GuestMemory: "memfd", KSM: true,
		VolumeStores: []VolumeStore{{Path: "/v", Label: "default"}},
		Registry:     Registry{Insecure: []string{"10.0.0.0/8"}, Whitelist: []string{"*.example.com"}, Mirrors: []string{"https://m"}}}
	if err := c.Save(Path(dir)); err != nil {
		t.Fatal(err)
	}
	got, err := Load(Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("got %+v want %+v", got, c)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "bad.json")); err == nil {
		t.Fatal("config without name accepted")
	}
}

func TestValidateRegistrySettings(t *testing.T) {
	for _, p := range []string{"reg:5000", "10.0.0.0/8", "*.example.com", "127.0.0.1", "reg.example.com"} {
		if err := ValidateRegistryPattern(p); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	for _, p := range []string{"", "a b", "10.0.0.0/33", "user@reg", "*.", "reg*.com", "reg/path"} {
		if err := ValidateRegistryPattern(p); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	for _, m := range []string{"https://mirror.example.com", "http://127.0.0.1:5000/"} {
		if err := ValidateMirror(m); err != nil {
			t.Errorf("%q: %v", m, err)
		}
	}
	for _, m := range []string{"mirror.example.com", "ftp://m", "https://", "https://m/path", "https://u:p@m"} {
		if err := ValidateMirror(m); err == nil {
			t.Errorf("%q accepted", m)
		}
	}
}

func TestValidateNameConvention(t *testing.T) {
	for _, ok := range []string{"myteam-{name}", "{id}", "ci.{name}_{id}"} {
		if err := ValidateNameConvention(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"myteam", "my team-{name}", "{name},x", "{nam}", strings.Repeat("x", 50) + "{id}"} {
		if err := ValidateNameConvention(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Templates are on unless the config says "templates": false; a config
// written before they were the default (no field) gets them on.
func TestTemplatesOn(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		field string
		on    bool
	}{
		{"", true},
		{`"templates": true,`, true},
		{`"templates": false,`, false},
	} {
		path := filepath.Join(dir, "config.json")
		doc := `{` + tc.field + `"name": "old", "root": "/var/lib/vch/old", "apiAddr": "0.0.0.0:2376"}`
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if c.TemplatesOn() != tc.on {
			t.Errorf("%s: templates on = %v, want %v", doc, c.TemplatesOn(), tc.on)
		}
		// Saving keeps what was there: no field stays no field.
		if err := c.Save(path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if has := strings.Contains(string(b), `"templates"`); has != (tc.field != "") {
			t.Errorf("%s saved as %s", doc, b)
		}
	}
}
