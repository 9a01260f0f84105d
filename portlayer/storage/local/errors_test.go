package local

import (
	"errors"
	"fmt"
	"net"
	"testing"

	remoteerrors "github.com/containerd/containerd/v2/core/remotes/errors"

	"github.com/vchproject/vch/errdefs"
)

func TestClassifyRegistryError(t *testing.T) {
	plain := errors.New("boom")
	for _, tc := range []struct {
		name  string
		err   error
		class error // nil: left unclassified
	}{
		{"401", remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Status: "401 Unauthorized"}, errdefs.ErrUnauthorized},
		{"403", fmt.Errorf("fetch: %w", remoteerrors.ErrUnexpectedStatus{StatusCode: 403}), errdefs.ErrForbidden},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, errdefs.ErrUnavailable},
		{"500", remoteerrors.ErrUnexpectedStatus{StatusCode: 500}, nil},
		{"other", plain, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classifyRegistryError(tc.err)
			var status remoteerrors.ErrUnexpectedStatus
			var op *net.OpError
			if !errors.Is(got, plain) && !errors.As(got, &status) && !errors.As(got, &op) {
				t.Fatalf("cause lost: %v", got)
			}
			if got.Error() != tc.err.Error() {
				t.Fatalf("text changed: %q -> %q", tc.err, got)
			}
			for _, c := range []error{errdefs.ErrUnauthorized, errdefs.ErrForbidden, errdefs.ErrUnavailable, errdefs.ErrNotFound} {
				if errors.Is(got, c) != (c == tc.class) {
					t.Fatalf("errors.Is(%v, %v) = %v", got, c, !(c == tc.class))
				}
			}
		})
	}
	if classifyRegistryError(nil) != nil {
		t.Fatal("nil classified")
	}
}

func TestTokenRefusal(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Body: []byte(`{"errors":[{"code":"UNAUTHORIZED","message":"bad password"}]}`)}, "unauthorized: bad password"},
		{fmt.Errorf("fetch: %w", remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Body: []byte(`{"details":"incorrect username or password"}`)}), "unauthorized: incorrect username or password"},
		{remoteerrors.ErrUnexpectedStatus{StatusCode: 401, Body: []byte("<html>")}, "unauthorized: authentication required"},
		{errors.New("dial tcp: refused"), "dial tcp: refused"},
	} {
		if got := tokenRefusal(c.err); got != c.want {
			t.Errorf("tokenRefusal(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
