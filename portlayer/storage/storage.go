// Package storage is the port layer's image store.
//
// Images are pulled into a content-addressed store (a blob shared by two
// images is stored once), unpacked, and turned into a read-only root
// filesystem disk that every container VM of the image shares. An image is
// known by its ID, the digest of its config ("sha256:..."); names and tags
// are the docker personality's business, not this package's.
//
// Lifecycle: Pull(ref) -> Image; RootFS(id) gives the disk a VM boots from;
// Remove(id) drops the image and every blob no other image uses.
package storage

import (
	"context"
	"io"
	"time"
)

// Image is one pulled image.
type Image struct {
	ID             string    `json:"id"`             // sha256:<config digest>
	ManifestDigest string    `json:"manifestDigest"` // digest of the manifest pulled
	Config         []byte    `json:"config"`         // the image config JSON as pulled
	Layers         []Layer   `json:"layers"`
	Size           int64     `json:"size"` // unpacked size in bytes
	Created        time.Time `json:"created"`
	Pulled         time.Time `json:"pulled"`
	// Parent is the image a committed image was made from (docker
	// inspect's Parent); empty for a pulled image.
	Parent string `json:"parent,omitempty"`
}

// Layer is one layer of an image.
type Layer struct {
	Digest    string `json:"digest"`    // compressed blob digest
	DiffID    string `json:"diffID"`    // uncompressed digest
	Size      int64  `json:"size"`      // compressed size
	MediaType string `json:"mediaType"` //
}

// Progress is one step of a pull, shaped like docker's progress stream:
// ID is the 12-digit short layer digest (empty for whole-pull messages),
// Status is docker's text ("Pulling fs layer", "Waiting", "Downloading",
// "Verifying Checksum", "Download complete", "Extracting", "Pull complete",
// "Already exists"), Current/Total in bytes where it applies.
type Progress struct {
	ID      string
	Status  string
	Current int64
	Total   int64
}

// Auth is registry credentials, as sent in X-Registry-Auth.
type Auth struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
}

// PullOptions tune one pull.
type PullOptions struct {
	Auth     *Auth
	Platform string // "linux/amd64" if empty
	Progress func(Progress)
}

// Puller fetches images. ref is fully qualified: "host[:port]/repo:tag" or
// "host[:port]/repo@sha256:...". Registries on 127.0.0.0/8 and ::1 may use
// plain HTTP, as in Docker.
type Puller interface {
	Pull(ctx context.Context, ref string, opts PullOptions) (Image, error)
}

// Reader reads pulled images.
type Reader interface {
	Get(ctx context.Context, id string) (Image, error)
	List(ctx context.Context) ([]Image, error)
}

// RootFS names the read-only disk holding an image's root filesystem (an
// ext4 file system), making it on first use. The name is the provider's:
// a host path for the local store, a datastore path
// ("[ds] …/<chain>.vmdk", the top of the image's layer disk chain) for
// the vSphere store; only the compute provider of the same platform
// opens it.
type RootFS interface {
	RootFS(ctx context.Context, id string) (path string, err error)
}

// Remover deletes an image and the blobs only it uses.
type Remover interface {
	Remove(ctx context.Context, id string) error
}

// Authenticator checks credentials against a registry, as `docker login`
// does: host is "name[:port]". It returns the identity token the registry
// issued, if any. Wrong credentials are ErrUnauthorized with docker's text;
// an unreachable registry is ErrUnavailable. Credentials are never kept.
type Authenticator interface {
	Login(ctx context.Context, host string, auth Auth) (identityToken string, err error)
}

// PushOptions tune one push.
type PushOptions struct {
	Auth *Auth
	// Progress receives, per layer (ID: the layer's DiffID), "Preparing",
	// "Pushing" with Current/Total, then "Pushed" or "Layer already
	// exists".
	Progress func(Progress)
}

// PushResult is what the registry stored: the manifest's digest and size.
type PushResult struct {
	Digest string
	Size   int64
}

// Pusher uploads the stored image id to ref ("host[:port]/repo:tag"):
// the blobs the registry lacks, then the manifest it was pulled with.
type Pusher interface {
	Push(ctx context.Context, ref, id string, opts PushOptions) (PushResult, error)
}

// CommitOptions describe an image made from a parent image and one more
// layer (docker commit).
type CommitOptions struct {
	Parent string    // the ID of the image the container ran
	Layer  io.Reader // the new layer: an uncompressed OCI layer tar
	// Config returns the new image's config JSON given the new layer's
	// diff ID; its rootfs.diff_ids must be the parent's plus that one.
	Config func(diffID string) ([]byte, error)
}

// Committer stores a new image from a parent image and a layer.
type Committer interface {
	Commit(ctx context.Context, opts CommitOptions) (Image, error)
}

// Store is a complete image store.
type Store interface {
	Puller
	Pusher
	Reader
	RootFS
	Remover
	Authenticator
}
