// Package system serves /_ping, /version and /info.
package system

import (
	"context"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"
)

// Backend is everything the system routes need.
type Backend interface {
	SystemInfo(ctx context.Context) (*system.Info, error)
	SystemVersion(ctx context.Context) (types.Version, error)
}
