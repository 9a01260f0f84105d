// Package network serves the Docker Engine API's /networks routes.
package network

import (
	"context"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// Backend answers network requests.
type Backend interface {
	NetworkList(ctx context.Context, f filters.Args) ([]network.Summary, error)
	NetworkInspect(ctx context.Context, nameOrID string) (network.Inspect, error)
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	NetworkRemove(ctx context.Context, nameOrID string) error
	NetworksPrune(ctx context.Context, f filters.Args) (network.PruneReport, error)
	NetworkConnect(ctx context.Context, nameOrID string, req network.ConnectOptions) error
	NetworkDisconnect(ctx context.Context, nameOrID string, req network.DisconnectOptions) error
}
