package guestinfo

import (
	"errors"
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
