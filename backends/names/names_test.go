package names

import (
	"regexp"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

func TestGenerate(t *testing.T) {
	shape := regexp.MustCompile(`^[a-z]+_[a-z]+$`)
	retry := regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]$`)
	for i := 0; i < 200; i++ {
		if n := Generate(0); !shape.MatchString(n) {
			t.Fatalf("Generate(0) = %q", n)
		}
		if n := Generate(3); !retry.MatchString(n) {
			t.Fatalf("Generate(3) = %q", n)
		}
		if _, err := Normalize(Generate(i % 2)); err != nil {
			t.Fatalf("generated name not valid: %v", err)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"web", "/web", true},
		{"/web", "/web", true},
		{"a.b-c_d9", "/a.b-c_d9", true},
		{"-web", "", false},
		{"we b", "", false},
		{"", "", false},
		{"/", "", false},
		{"web/x", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil {
				if !errdefs.IsInvalidParameter(err) {
					t.Fatalf("class: %v", err)
				}
				want := "Invalid container name (" + tc.in + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
				if err.Error() != want {
					t.Fatalf("text %q, want %q", err, want)
				}
			}
		})
	}
}

const (
	idA = "aaaa1111" + "0000000000000000000000000000000000000000000000000000000a"
	idB = "aaaa2222" + "0000000000000000000000000000000000000000000000000000000b"
	idC = "cccc0000" + "0000000000000000000000000000000000000000000000000000000c"
)

func testIndex(t *testing.T) *Index {
	x := NewIndex()
	for id, name := range map[string]string{idA: "/alpha", idB: "/beta", idC: "/" + idA[:4]} {
		if err := x.Reserve(name, id); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func TestResolve(t *testing.T) {
	x := testIndex(t)
	for _, tc := range []struct {
		ref, want string
		class     func(error) bool
		text      string
	}{
		{ref: idA, want: idA},
		{ref: "alpha", want: idA},
		{ref: "/beta", want: idB},
		{ref: "aaaa1", want: idA},
		{ref: "aaaa2", want: idB},
		{ref: "aaaa", want: idC}, // an exact name wins over a prefix
		{ref: "aaa", class: errdefs.IsInvalidParameter, text: "multiple IDs found with provided prefix: aaa"},
		{ref: "zzz", class: errdefs.IsNotFound, text: "No such container: zzz"},
		{ref: "/aaaa1", class: errdefs.IsNotFound, text: "No such container: /aaaa1"},
		{ref: "", class: errdefs.IsInvalidParameter, text: `invalid name or ID supplied: ""`},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := x.Resolve(tc.ref)
			if tc.class == nil {
				if err != nil || got != tc.want {
					t.Fatalf("Resolve(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
				}
				return
			}
			if err == nil || !tc.class(err) || err.Error() != tc.text {
				t.Fatalf("Resolve(%q) error = %v, want %q", tc.ref, err, tc.text)
			}
		})
	}
}

func TestReserveConflictRenameRelease(t *testing.T) {
	x := testIndex(t)
	err := x.Reserve("/alpha", idB)
	want := `Conflict. The container name "/alpha" is already in use by container "` + idA + `". You have to remove (or rename) that container to be able to reuse that name.`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("got %v", err)
	}
	if err := x.Rename(idB, "/gamma"); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Resolve("beta"); !errdefs.IsNotFound(err) {
		t.Fatalf("old name still resolves: %v", err)
	}
	if x.Name(idB) != "/gamma" {
		t.Fatalf("name %q", x.Name(idB))
	}
	x.Release(idA)
	if err := x.Reserve("/alpha", idB); err != nil {
		t.Fatalf("released name not free: %v", err)
	}
	if got := strings.Join(x.IDs(), ","); got != idB+","+idC {
		t.Fatalf("IDs %s", got)
	}
}
