package middleware

import (
	"testing"

	"github.com/vchproject/vch/errdefs"
)

func TestNegotiate(t *testing.T) {
	v, err := NewVersion("1.24", "1.45", "28.0.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want, err string
	}{
		{"", "1.45", ""},
		{"1.24", "1.24", ""},
		{"1.44", "1.44", ""},
		{"1.45", "1.45", ""},
		{"1.99", "", "client version 1.99 is too new. Maximum supported API version is 1.45"},
		{"1.2", "", "client version 1.2 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
	} {
		got, err := v.Negotiate(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err || !errdefs.IsInvalidParameter(err) {
				t.Errorf("Negotiate(%q) error = %v, want %q (invalid parameter)", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Negotiate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := NewVersion("1.45", "1.24", "x"); err == nil {
		t.Fatal("inverted range accepted")
	}
	if Compare("1.9", "1.10") != -1 || Compare("1.45", "1.45") != 0 {
		t.Fatal("numeric comparison broken")
	}
}
