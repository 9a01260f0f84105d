package local

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/vchproject/vch/errdefs"
)

// classified keeps a cause's text and wrap chain and adds an errdefs class.
type classified struct {
	err   error
	class error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.err, e.class} }

// classifyRegistryError gives a registry error its class: unreachable
// registries are Unavailable, refused credentials Unauthorized or
// Forbidden; anything else stays as it is.
func classifyRegistryError(err error) error {
	if err == nil {
		return nil
	}
	var class error
	var status remoteerrors.ErrUnexpectedStatus
	var netErr net.Error
	switch {
	case errors.As(err, &status) && status.StatusCode == http.StatusUnauthorized,
		cerrdefs.IsUnauthorized(err):
		class = errdefs.ErrUnauthorized
	case errors.As(err, &status) && status.StatusCode == http.StatusForbidden,
		cerrdefs.IsPermissionDenied(err):
		class = errdefs.ErrForbidden
	case errors.As(err, &netErr), cerrdefs.IsUnavailable(err):
		class = errdefs.ErrUnavailable
	default:
		return err
	}
	return &classified{err: err, class: class}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

func registryError(what string, err error) error {
	return classifyRegistryError(fmt.Errorf("%s: %w", what, err))
}
