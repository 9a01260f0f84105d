package vsession

import (
	"context"
	"errors"

	"github.com/vmware/govmomi/fault"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/errdefs"
)

// Classify gives a vSphere error its errdefs class, keeping its text. An
// inventory name the finder does not know is ErrNotFound, one it finds
// twice ErrInvalidParameter. Otherwise the
// first fault in err's tree that has a class decides; a fault without one
// (SystemError, a host that dropped the call, ...) is ErrUnavailable: vSphere
// could not do it now. Errors that already carry a class, and context
// errors, are returned unchanged.
func Classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || classed(err) {
		return err
	}
	var nf *find.NotFoundError
	var dnf *find.DefaultNotFoundError
	var multi *find.MultipleFoundError
	switch {
	case errors.As(err, &nf), errors.As(err, &dnf):
		return errdefs.New(errdefs.ErrNotFound, err.Error())
	case errors.As(err, &multi):
		return errdefs.New(errdefs.ErrInvalidParameter, err.Error()+": use an inventory path")
	}
	class := errdefs.ErrUnavailable
	fault.In(err, func(f types.BaseMethodFault, _ string, _ []types.LocalizableMessage) bool {
		if c := faultClass(f); c != nil {
			class = c
			return true
		}
		return false
	})
	return errdefs.New(class, err.Error())
}

func faultClass(f types.BaseMethodFault) error {
	switch f.(type) {
	case *types.FileAlreadyExists, *types.DuplicateName, *types.AlreadyExists:
		return errdefs.ErrAlreadyExists
	case *types.FileNotFound, *types.ManagedObjectNotFound, *types.NotFound:
		return errdefs.ErrNotFound
	case *types.InvalidPowerState, *types.TaskInProgress, *types.ResourceInUse, *types.ConcurrentAccess:
		return errdefs.ErrConflict
	case *types.NotAuthenticated, *types.InvalidLogin:
		return errdefs.ErrUnauthorized
	case *types.NoPermission:
		return errdefs.ErrForbidden
	case *types.InvalidArgument, *types.InvalidDatastorePath, *types.InvalidName:
		return errdefs.ErrInvalidParameter
	case types.BaseInsufficientResourcesFault:
		return errdefs.ErrUnavailable
	case types.BaseInvalidState:
		return errdefs.ErrConflict
	}
	return nil
}

func classed(err error) bool {
	for _, c := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrConflict, errdefs.ErrInvalidParameter,
		errdefs.ErrFailedPrecondition, errdefs.ErrNotImplemented, errdefs.ErrUnavailable, errdefs.ErrUnauthorized, errdefs.ErrForbidden} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}
