package local

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/portlayer/storage"
	"github.com/vchproject/vch/tests/fixture"
)

func TestMatchRegistry(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"reg.example.com", "reg.example.com", true},
		{"reg.example.com", "reg.example.com:5000", true},
		{"reg.example.com:5000", "reg.example.com:5000", true},
		{"reg.example.com:5000", "reg.example.com:443", false},
		{"reg.example.com:5000", "reg.example.com", false},
		{"*.example.com", "a.b.example.com:5000", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "badexample.com", false},
		{"10.0.0.0/8", "10.1.2.3:5000", true},
		{"10.0.0.0/8", "11.1.2.3", false},
		{"10.0.0.0/8", "reg.example.com", false},
		{"127.0.0.1", "127.0.0.1:5000", true},
		{"docker.io", "docker.io", true},
	} {
		if got := matchRegistry(tc.pattern, tc.host); got != tc.want {
			t.Errorf("matchRegistry(%q, %q) = %v", tc.pattern, tc.host, got)
		}
	}
}

// TestRegistryPolicy: a TLS registry with a CA of the test's own is
// refused without that CA, reached with it or as an insecure registry; the
// whitelist refuses every other registry; Docker Hub names go to a mirror.
func TestRegistryPolicy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain, err := fixture.RunRegistry(filepath.Join(dir, "reg"))
	if err != nil {
		t.Fatal(err)
	}
	bb, err := fixture.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"team/busybox", "library/busybox"} {
		if err := plain.Push(ctx, repo, "latest", bb); err != nil {
			t.Fatal(err)
		}
	}
	plain.Close()
	certDir := filepath.Join(dir, "certs")
	if err := certs.Generate(certDir, filepath.Join(dir, "ca-key.pem"), certs.Options{CommonName: "registry"}); err != nil {
		t.Fatal(err)
	}
	reg, err := fixture.RunRegistryTLS(filepath.Join(dir, "reg"), filepath.Join(certDir, certs.ServerCert), filepath.Join(certDir, certs.ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	caPEM, err := os.ReadFile(filepath.Join(certDir, certs.CA))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ref := reg.Addr + "/team/busybox:latest"
	never := WithPlainHTTP(func(string) bool { return false })
	open := func(p RegistryPolicy) *Store {
		s, err := New(t.TempDir(), nil, never, WithRegistryPolicy(p))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if _, err := open(RegistryPolicy{}).Pull(ctx, ref, storage.PullOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("pull without the CA: %v", err)
	}
	for name, p := range map[string]RegistryPolicy{
		"registry CA": {RootCAs: pool},
		"insecure":    {Insecure: []string{"127.0.0.0/8"}},
	} {
		img, err := open(p).Pull(ctx, ref, storage.PullOptions{})
		if err != nil || img.ID != bb.ID() {
			t.Fatalf("%s: %v", name, err)
		}
	}

	s := open(RegistryPolicy{RootCAs: pool, Whitelist: []string{"*.example.com", "10.0.0.0/8"}})
	want := "Access denied to unauthorized registry (" + reg.Addr + ") while VCH is in whitelist mode"
	if _, err := s.Pull(ctx, ref, storage.PullOptions{}); !errdefs.IsForbidden(err) || err.Error() != want {
		t.Fatalf("pull outside the whitelist: %v", err)
	}
	if _, err := s.Login(ctx, reg.Addr, storage.Auth{Username: "a", Password: "b"}); !errdefs.IsForbidden(err) {
		t.Fatalf("login outside the whitelist: %v", err)
	}
	if img, err := open(RegistryPolicy{RootCAs: pool, Whitelist: []string{"127.0.0.1"}}).Pull(ctx, ref, storage.PullOptions{}); err != nil || img.ID != bb.ID() {
		t.Fatalf("pull inside the whitelist: %v", err)
	}

	// Docker Hub is unreachable here: "busybox" can only come from the mirror.
	m := open(RegistryPolicy{RootCAs: pool, Mirrors: []string{"https://" + reg.Addr}})
	if img, err := m.Pull(ctx, "busybox", storage.PullOptions{}); err != nil || img.ID != bb.ID() {
		t.Fatalf("pull through the mirror: %v", err)
	}
}
