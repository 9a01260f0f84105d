package reference

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/vchproject/vch/errdefs"
)

const (
	id1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	id2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	dg  = "sha256:3333333333333333333333333333333333333333333333333333333333333333"
)

func named(t *testing.T, s string) reference.Named {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func familiar(refs []reference.Named) string {
	var s []string
	for _, r := range refs {
		s = append(s, reference.FamiliarString(r))
	}
	return strings.Join(s, " ")
}

func TestStorePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "refs.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for ref, id := range map[string]string{
		"busybox":                      id1, // stored as busybox:latest
		"127.0.0.1:5000/busybox:1.36":  id1,
		"127.0.0.1:5000/busybox@" + dg: id1,
		"127.0.0.1:5000/alpine:3":      id2,
	} {
		if err := s.Add(named(t, ref), id); err != nil {
			t.Fatal(err)
		}
	}
	if id, ok := s.Get(named(t, "docker.io/library/busybox:latest")); !ok || id != id1 {
		t.Fatalf("Get busybox = %q %v", id, ok)
	}

	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := familiar(s2.References(id1)), "127.0.0.1:5000/busybox:1.36 127.0.0.1:5000/busybox@"+dg+" busybox:latest"; got != want {
		t.Fatalf("References after reopen = %q, want %q", got, want)
	}
	// Moving a tag.
	if err := s2.Add(named(t, "127.0.0.1:5000/alpine:3"), id1); err != nil {
		t.Fatal(err)
	}
	if refs := s2.References(id2); len(refs) != 0 {
		t.Fatalf("id2 still referenced: %v", familiar(refs))
	}
	if err := s2.Delete(named(t, "busybox")); err != nil {
		t.Fatal(err)
	}
	err = s2.Delete(named(t, "busybox"))
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: busybox:latest" {
		t.Fatalf("second delete: %v", err)
	}
	s3, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s3.Get(named(t, "busybox")); ok {
		t.Fatal("deleted tag came back")
	}
	if id, _ := s3.Get(named(t, "127.0.0.1:5000/alpine:3")); id != id1 {
		t.Fatalf("moved tag = %q", id)
	}
}

func TestOpenCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "refs.json")
	if err := writeAtomic(path, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil {
		t.Fatal("corrupt store opened")
	}
}
