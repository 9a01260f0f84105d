// Package system serves /_ping, /version, /info and /auth.
package system

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/system"
)

// Backend is everything the system routes need.
type Backend interface {
	SystemInfo(ctx context.Context) (*system.Info, error)
	SystemVersion(ctx context.Context) (types.Version, error)
	// AuthenticateToRegistry checks cfg's credentials against the registry
	// at cfg.ServerAddress (docker login) and returns the identity token
	// the registry issued, if any.
	AuthenticateToRegistry(ctx context.Context, cfg *registry.AuthConfig) (identityToken string, err error)
}
