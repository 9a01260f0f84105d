// Package container serves the Docker Engine API's /containers routes.
package container

import (
	"context"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// CreateConfig is a decoded POST /containers/create.
type CreateConfig struct {
	Name             string
	Platform         string
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// ListConfig is a decoded GET /containers/json.
type ListConfig struct {
	All     bool
	Limit   int
	Size    bool
	Filters filters.Args
}

// StreamFunc is called by the backend once the container is resolved and the
// request is known to be valid; it commits the HTTP response (hijacking the
// connection for attach) and returns the client's input (nil unless stdin
// was asked for) and the output. The backend multiplexes stdout and stderr
// with stdcopy into out unless the container has a TTY; tty tells the daemon
// which content type to announce.
type StreamFunc func(tty bool) (in io.ReadCloser, out io.Writer, err error)

// AttachConfig is a decoded POST /containers/{id}/attach.
type AttachConfig struct {
	UseStdin, UseStdout, UseStderr bool
	Logs, Stream                   bool
	DetachKeys                     string
	Streams                        StreamFunc
}

// LogsConfig is a decoded GET /containers/{id}/logs.
type LogsConfig struct {
	ShowStdout, ShowStderr bool
	Follow                 bool
	Timestamps             bool
	Since, Until           time.Time // zero: unbounded
	Tail                   int       // < 0: all
	Streams                StreamFunc
}

// WaitResult is what POST /containers/{id}/wait answers.
type WaitResult struct {
	StatusCode int64
	Err        error // an error while waiting ("Error" in the response)
}

// stateBackend changes containers.
type stateBackend interface {
	ContainerCreate(ctx context.Context, cfg CreateConfig) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, name string) error
	// ContainerStop: timeout nil means the container's own StopTimeout (default 10 s); signal "" its StopSignal.
	ContainerStop(ctx context.Context, name string, timeout *int, signal string) error
	ContainerKill(ctx context.Context, name string, signal string) error
	ContainerRemove(ctx context.Context, name string, force, removeVolumes bool) error
	// ContainerRemoveLink removes the legacy link PARENT/ALIAS (rm --link).
	ContainerRemoveLink(ctx context.Context, name string) error
	ContainerRename(ctx context.Context, oldName, newName string) error
	// ContainerUpdate changes the restart policy and the VM's resources.
	ContainerUpdate(ctx context.Context, name string, u *container.UpdateConfig) (container.UpdateResponse, error)
	// ContainerWait resolves the container at once (errors are returned
	// before any response is written); the channel then yields one result.
	ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan WaitResult, error)
}

// inspectBackend reads containers.
type inspectBackend interface {
	ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error)
	Containers(ctx context.Context, cfg ListConfig) ([]container.Summary, error)
}

// streamBackend serves the main process's streams.
type streamBackend interface {
	ContainerAttach(ctx context.Context, name string, cfg AttachConfig) error
	ContainerLogs(ctx context.Context, name string, cfg LogsConfig) error
	ContainerResize(ctx context.Context, name string, height, width uint) error
}

// pauseBackend freezes and thaws containers.
type pauseBackend interface {
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
}

// topBackend lists a container's processes.
type topBackend interface {
	ContainerTop(ctx context.Context, name, psArgs string) (*container.TopResponse, error)
}

// StatsConfig is a decoded GET /containers/{id}/stats.
type StatsConfig struct {
	Stream  bool // a sample every second until the client leaves
	OneShot bool // with !Stream: one sample at once, without precpu_stats
	// Output commits the response (200, application/json) and returns
	// where the samples go, one JSON document each; the backend calls it
	// once the container is resolved.
	Output func() io.Writer
}

// pruneBackend removes stopped containers (docker container prune).
type pruneBackend interface {
	ContainersPrune(ctx context.Context, f filters.Args) (*container.PruneReport, error)
}

// statsBackend samples containers' resource usage.
type statsBackend interface {
	ContainerStats(ctx context.Context, name string, cfg StatsConfig) error
}

// Backend is everything the /containers routes need.
type Backend interface {
	stateBackend
	inspectBackend
	streamBackend
	pauseBackend
	topBackend
	statsBackend
	pruneBackend
	copyBackend
	commitBackend
}
