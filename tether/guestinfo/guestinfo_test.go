package guestinfo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEnv(t *testing.T) {
	if got := EnvName("guestinfo.vch.config"); got != "VMX_GUESTINFO_VCH_CONFIG" {
		t.Fatalf("EnvName = %q", got)
	}
	e := Env{LookupEnv: func(k string) (string, bool) {
		if k == "VMX_GUESTINFO_VCH_ID" {
			return "abc", true
		}
		return "", false
	}}
	if v, err := e.Get("guestinfo.vch.id"); err != nil || v != "abc" {
		t.Fatalf("Get = %q %v", v, err)
	}
	if _, err := e.Get("guestinfo.vch.serial"); !errors.Is(err, ErrNotSet) {
		t.Fatalf("missing key: %v", err)
	}
}

func TestFwCfg(t *testing.T) {
	p := filepath.Join(t.TempDir(), "raw")
	if err := os.WriteFile(p, []byte(`{"guestinfo.vch.id":"abc","guestinfo.vch.empty":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := ForVM(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := src.Get("guestinfo.vch.id"); err != nil || v != "abc" {
		t.Fatalf("Get = %q %v", v, err)
	}
	for _, k := range []string{"guestinfo.vch.empty", "guestinfo.vch.serial"} {
		if _, err := src.Get(k); !errors.Is(err, ErrNotSet) {
			t.Fatalf("%s: %v", k, err)
		}
	}
	if err := os.WriteFile(p, []byte(`{"guestinfo.vch.id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ForVM(p); err == nil {
		t.Fatal("a truncated fw_cfg item was read")
	}
	if _, err := ForVM(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no fw_cfg item: %v", err)
	}
}
