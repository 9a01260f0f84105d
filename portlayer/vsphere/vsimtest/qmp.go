package vsimtest

import (
	"context"

	"github.com/vchproject/vch/internal/qmp"
)

// QEMUHost's monitor sessions are internal/qmp's: an event-driven client
// (DEVICE_DELETED tells a hot-removed device is gone).
type (
	qmpClient = qmp.Client
	qmpEvent  = qmp.Event
)

// dialQMP connects to a VM's monitor socket.
func dialQMP(ctx context.Context, path string) (*qmpClient, error) { return qmp.Dial(ctx, path) }
