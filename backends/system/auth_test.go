package system

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types/registry"

	"github.com/vchproject/vch/backends/internal/fakestore"
	"github.com/vchproject/vch/errdefs"
)

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"http://127.0.0.1:5000/v2/":   "127.0.0.1:5000",
		"https://reg.example:443":     "reg.example:443",
		"https://index.docker.io/v1/": "docker.io",
		"":                            "docker.io",
	} {
		if got, err := registryHost(in); err != nil || got != want {
			t.Errorf("registryHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"https://", "user@host:5000", "a b"} {
		if _, err := registryHost(bad); !errdefs.IsInvalidParameter(err) {
			t.Errorf("registryHost(%q): %v, want invalid parameter", bad, err)
		}
	}
}

func TestAuthenticateToRegistry(t *testing.T) {
	store := fakestore.New()
	store.User("reg:5000", "alice", "s3cret")
	b := New(Config{Registries: store})
	ctx := context.Background()
	if _, err := b.AuthenticateToRegistry(ctx, &registry.AuthConfig{ServerAddress: "https://reg:5000/", Username: "alice", Password: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	_, err := b.AuthenticateToRegistry(ctx, &registry.AuthConfig{ServerAddress: "reg:5000", Username: "alice", Password: "no"})
	if !errdefs.IsUnauthorized(err) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := New(Config{}).AuthenticateToRegistry(ctx, &registry.AuthConfig{}); !errdefs.IsNotImplemented(err) {
		t.Fatalf("no registries: %v", err)
	}
}
