package compute

import "context"

// Resources are the size of a container VM; a zero field is left as it is.
type Resources struct {
	CPUs     int
	MemoryMB int64
}

// Resizer changes the size a container VM boots with (docker update). A
// running VM keeps its size until its next start: a VM's memory and vCPUs
// are fixed while it runs.
type Resizer interface {
	SetResources(ctx context.Context, id string, r Resources) error
}
