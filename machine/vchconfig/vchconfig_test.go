package vchconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	c := &Config{Name: "v", Root: dir, APIAddr: "127.0.0.1:2376", MemoryMB: 256,
		VolumeStores: []VolumeStore{{Path: "/v", Label: "default"}}}
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
