package local

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/storage"
)

// classified keeps a cause's wrap chain and adds an errdefs class; its
// text is msg, or the cause's.
type classified struct {
	msg   string
	err   error
	class error
}

func (e *classified) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}
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

// resolveError words a failed resolve of ref as Docker does for refused
// credentials (`Head "URL": no basic auth credentials` without any,
// `...: unauthorized: authentication required` with wrong ones), and
// classifies every other failure.
func resolveError(ref string, auth *storage.Auth, err error) error {
	return authError("resolve "+ref, auth, err)
}

// authError words a registry's 401 as Docker does (see resolveError) and
// classifies every other failure of what.
func authError(what string, auth *storage.Auth, err error) error {
	var status remoteerrors.ErrUnexpectedStatus
	if errors.As(err, &status) && status.StatusCode == http.StatusUnauthorized {
		what := "unauthorized: authentication required"
		if auth == nil || *auth == (storage.Auth{}) {
			what = "no basic auth credentials"
		}
		method := status.RequestMethod
		if len(method) > 1 {
			method = method[:1] + strings.ToLower(method[1:])
		}
		return &classified{
			msg:   fmt.Sprintf("%s %q: %s", method, status.RequestURL, what),
			err:   err,
			class: errdefs.ErrUnauthorized,
		}
	}
	return registryError(what, err)
}
