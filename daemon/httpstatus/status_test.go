package httpstatus

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

func TestFromError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{errdefs.NotFound("No such container: x"), 404},
		{fmt.Errorf("wrapped: %w", errdefs.ErrNotFound), 404},
		{errdefs.InvalidParameter("bad"), 400},
		{errdefs.FailedPrecondition("bad"), 400},
		{errdefs.Conflict("taken"), 409},
		{errdefs.ErrAlreadyExists, 409},
		{errdefs.NotImplemented("no"), 501},
		{errdefs.Unavailable("later"), 503},
		{errdefs.ErrUnauthorized, 401},
		{errdefs.ErrForbidden, 403},
		{errdefs.ErrNotModified, 304},
		{errors.New("boom"), 500},
	} {
		if got := FromError(tc.err); got != tc.want {
			t.Errorf("FromError(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
