package compute

import "context"

// Pauser freezes and thaws a running container VM (docker pause/unpause).
//
// Pause stops the VM's vCPUs: nothing in the guest runs, and the status
// stays StateRunning with Paused set. Unpause resumes the vCPUs and brings
// the guest's clock back to the host's. A paused VM takes no exec
// (ErrConflict); Signal thaws it first so the signal can be handled; Kill
// works as always. Pause of a VM that is not running, a second Pause, and
// Unpause of a VM that is not paused are ErrConflict.
type Pauser interface {
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
}
