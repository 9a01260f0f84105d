// Package image serves the Docker Engine API's /images routes.
package image

import (
	"context"
	"io"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// PullConfig is a decoded POST /images/create?fromImage=.
type PullConfig struct {
	Image    string // as given: "127.0.0.1:5000/busybox" or with ":tag" / "@sha256:..."
	Tag      string // the tag query parameter (may be empty, or a digest)
	Platform string
	// Auth is the decoded X-Registry-Auth header (nil if absent).
	Auth *AuthConfig
	// Output receives docker's JSON progress stream (one JSON message per
	// line); the daemon has already committed a 200 response when the
	// backend first writes to it.
	Output io.Writer
}

// PushConfig is a decoded POST /images/{name}/push?tag=.
type PushConfig struct {
	Name   string // as given, may carry ":tag"
	Tag    string // the tag parameter; empty (and none in Name) = every tag
	Auth   *AuthConfig
	Output io.Writer // docker's JSON progress stream, as PullConfig's
}

// AuthConfig is the part of X-Registry-Auth vch uses.
type AuthConfig struct {
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	ServerAddress string `json:"serveraddress,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
}

// Backend is everything the /images routes need.
type Backend interface {
	PullImage(ctx context.Context, cfg PullConfig) error
	PushImage(ctx context.Context, cfg PushConfig) error
	Images(ctx context.Context, all bool, f filters.Args) ([]image.Summary, error)
	ImageInspect(ctx context.Context, name string) (*image.InspectResponse, error)
	TagImage(ctx context.Context, source, repo, tag string) error
	ImageDelete(ctx context.Context, name string, force, prune bool) ([]image.DeleteResponse, error)
	// ImagesPrune removes unused images the filters select (docker image prune).
	ImagesPrune(ctx context.Context, f filters.Args) (*image.PruneReport, error)
}
