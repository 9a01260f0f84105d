package vsession_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

func taskErr(f types.BaseMethodFault) error {
	return task.Error{LocalizedMethodFault: &types.LocalizedMethodFault{Fault: f, LocalizedMessage: fmt.Sprintf("%T", f)}}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err   error
		class error
	}{
		{taskErr(&types.FileAlreadyExists{}), errdefs.ErrAlreadyExists},
		{taskErr(&types.DuplicateName{}), errdefs.ErrAlreadyExists},
		{taskErr(&types.FileNotFound{}), errdefs.ErrNotFound},
		{taskErr(&types.ManagedObjectNotFound{}), errdefs.ErrNotFound},
		{taskErr(&types.InvalidPowerState{}), errdefs.ErrConflict},
		{taskErr(&types.InvalidState{}), errdefs.ErrConflict},
		{taskErr(&types.NotAuthenticated{}), errdefs.ErrUnauthorized},
		{taskErr(&types.InvalidLogin{}), errdefs.ErrUnauthorized},
		{taskErr(&types.NoPermission{}), errdefs.ErrForbidden},
		{taskErr(&types.InvalidArgument{}), errdefs.ErrInvalidParameter},
		{taskErr(&types.InsufficientMemoryResourcesFault{}), errdefs.ErrUnavailable},
		{taskErr(&types.SystemError{}), errdefs.ErrUnavailable},
		{fmt.Errorf("wrapped: %w", taskErr(&types.FileNotFound{})), errdefs.ErrNotFound},
		{errors.New("connection refused"), errdefs.ErrUnavailable},
	} {
		got := vsession.Classify(tc.err)
		if !errors.Is(got, tc.class) || got.Error() != tc.err.Error() {
			t.Errorf("Classify(%v) = %v, want class %v with the same text", tc.err, got, tc.class)
		}
	}
	if err := vsession.Classify(context.DeadlineExceeded); err != context.DeadlineExceeded {
		t.Errorf("context error changed: %v", err)
	}
	already := errdefs.Conflict("busy")
	if err := vsession.Classify(already); err != already {
		t.Errorf("classed error changed: %v", err)
	}
}
