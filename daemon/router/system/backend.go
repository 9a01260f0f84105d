// Package system serves /_ping, /version, /info, /auth and /events.
package system

import (
	"context"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
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
	// SubscribeToEvents returns the kept events at or after since (zero:
	// none) that f selects, and a channel of every later one; the channel
	// closes when cancel is called or the subscriber fell too far behind.
	// f's keys are checked first (invalid parameter).
	SubscribeToEvents(since time.Time, f filters.Args) (past []events.Message, live <-chan events.Message, cancel func(), err error)
	// SystemDiskUsage answers docker system df.
	SystemDiskUsage(ctx context.Context) (*types.DiskUsage, error)
}
