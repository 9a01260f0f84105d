// Package httpstatus maps an error to the HTTP status a Docker client
// expects. The status comes from the error's errdefs class alone: do not add
// type or message checks here; classify the error where it is made.
package httpstatus

import (
	"net/http"

	"github.com/vchproject/vch/errdefs"
)

// FromError returns the status for err, following moby's table.
func FromError(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidParameter(err), errdefs.IsFailedPrecondition(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err):
		return http.StatusConflict
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsForbidden(err):
		return http.StatusForbidden
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	default:
		return http.StatusInternalServerError
	}
}
