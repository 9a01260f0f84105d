package compute

import (
	"context"
	"io"
	"syscall"

	"github.com/vchproject/vch/errdefs"
)

// Exec sessions (docker exec) run more processes in a running container
// VM, beside its main process, with the same root filesystem, user
// database and environment rules:
//
//  1. Exec(id, cfg) starts cfg's process and returns once it runs. A
//     process that cannot start is an *ExecStartError carrying docker's exit
//     code (126 not executable, 127 not found). A VM that is not running is
//     ErrConflict; an unknown id ErrNotFound.
//  2. While it runs its output streams to cfg.Stdout/Stderr, cfg.Stdin
//     feeds it (EOF closes its stdin unless it has a TTY), and the
//     ExecProcess resizes its TTY and signals it.
//  3. Wait returns its exit code once it exited and its output was written.
//     When the VM stops under it the code is 137.
//
// The provider reaps exec processes; they never change the container's own
// status or exit code.

// ExecConfig is one process to start in a running container VM.
type ExecConfig struct {
	Args       []string // Args[0] is looked up in PATH of Env inside the container
	Env        []string // complete environment (the caller merges the container's); later entries win
	User       string   // user[:group], names or numbers, resolved in the guest
	WorkingDir string   // "" is /
	Tty        bool
	Height     uint // initial TTY size; 0: the guest's default
	Width      uint

	Stdin  io.Reader // nil: no stdin (/dev/null)
	Stdout io.Writer // nil: discarded; with a TTY all output goes here
	Stderr io.Writer // nil: discarded
}

// ExecProcess is a started exec process.
type ExecProcess interface {
	// Pid is the process's id inside the VM.
	Pid() int
	Resize(ctx context.Context, height, width uint) error
	Signal(ctx context.Context, sig syscall.Signal) error
	// Wait blocks until the process exited and its output was written to
	// the writers, and returns the exit code (128+signal if killed).
	Wait(ctx context.Context) (int, error)
}

// ExecStartError says an exec process could not start. Its class is
// errdefs.ErrInvalidParameter.
type ExecStartError struct {
	ExitCode int    // docker's: 126 cannot execute, 127 not found
	Msg      string // the guest's reason, e.g. `exec: "x": executable file not found in $PATH`
}

func (e *ExecStartError) Error() string        { return e.Msg }
func (e *ExecStartError) Is(target error) bool { return target == errdefs.ErrInvalidParameter }

// Execer runs exec processes in running container VMs.
type Execer interface {
	Exec(ctx context.Context, id string, cfg ExecConfig) (ExecProcess, error)
}
