package compute

import "context"

// TopResult is docker top's table: the processes of a container VM.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// Topper lists the processes running in a container VM, as ps does with
// psArgs (empty: -ef), measured inside the VM. A VM that is not running,
// or paused, is ErrConflict; options the guest's ps does not know are
// ErrInvalidParameter.
type Topper interface {
	Top(ctx context.Context, id string, psArgs []string) (TopResult, error)
}
