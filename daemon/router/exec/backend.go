// Package exec serves the Docker Engine API's exec routes:
// POST /containers/{name}/exec, POST /exec/{id}/start,
// POST /exec/{id}/resize and GET /exec/{id}/json.
package exec

import (
	"context"
	"io"

	"github.com/docker/docker/api/types/container"
)

// StreamFunc is called by the backend once the exec is known to be
// startable; it hijacks the connection and returns the client's input and
// the output. The backend multiplexes stdout and stderr with stdcopy into
// out unless tty is set; tty tells the daemon which content type to
// announce.
type StreamFunc func(tty bool) (in io.ReadCloser, out io.Writer, err error)

// StartConfig is a decoded POST /exec/{id}/start.
type StartConfig struct {
	Detach      bool
	Tty         bool
	ConsoleSize *[2]uint // [height, width]; nil: the size given at create
	// Streams is nil with Detach.
	Streams StreamFunc
}

// Backend is everything the exec routes need.
type Backend interface {
	// ExecCreate registers an exec in the running container name and
	// returns its ID.
	ExecCreate(ctx context.Context, name string, opts *container.ExecOptions) (string, error)
	// ExecStart runs the exec. Errors before Streams was called become the
	// HTTP answer; after it the backend reports them in the stream. Without
	// Detach it returns when the process has exited and its output was
	// written.
	ExecStart(ctx context.Context, id string, cfg StartConfig) error
	ExecResize(ctx context.Context, id string, height, width uint) error
	ExecInspect(ctx context.Context, id string) (*Inspect, error)
}

// Inspect is GET /exec/{id}/json, in the shape of docker's
// backend.ExecInspect.
type Inspect struct {
	ID            string
	Running       bool
	ExitCode      *int
	ProcessConfig *ProcessConfig
	OpenStdin     bool
	OpenStderr    bool
	OpenStdout    bool
	CanRemove     bool
	ContainerID   string
	DetachKeys    []byte
	Pid           int
}

// ProcessConfig describes the exec's process.
type ProcessConfig struct {
	Tty        bool     `json:"tty"`
	Entrypoint string   `json:"entrypoint"`
	Arguments  []string `json:"arguments"`
	Privileged *bool    `json:"privileged,omitempty"`
	User       string   `json:"user,omitempty"`
}
