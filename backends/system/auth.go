package system

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/registry"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// AuthenticateToRegistry answers docker login. The VCH keeps nothing: the
// CLI stores the credentials and sends them with every pull and push.
func (b *Backend) AuthenticateToRegistry(ctx context.Context, cfg *registry.AuthConfig) (string, error) {
	if b.cfg.Registries == nil {
		return "", errdefs.NotImplemented("login is not supported by this VCH")
	}
	host, err := registryHost(cfg.ServerAddress)
	if err != nil {
		return "", err
	}
	return b.cfg.Registries.Login(ctx, host, storage.Auth{
		Username: cfg.Username, Password: cfg.Password, IdentityToken: cfg.IdentityToken,
	})
}

// registryHost turns a login's server address ("host:port",
// "https://host/v2/", docker's "https://index.docker.io/v1/") into the
// registry host the store dials.
func registryHost(addr string) (string, error) {
	h := strings.TrimSpace(addr)
	if h == "" {
		return "docker.io", nil
	}
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	switch h {
	case "":
		return "", errdefs.InvalidParameter("invalid registry address " + addr)
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io", nil
	}
	if strings.ContainsAny(h, " @?#") {
		return "", errdefs.InvalidParameter("invalid registry address " + addr)
	}
	return h, nil
}
