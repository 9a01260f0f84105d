// Package errdefs holds the error classes shared by every vch layer.
//
// A layer returns one of these classes (usually wrapped with fmt.Errorf and
// %w to add context); callers test the class with the IsXxx helpers, which
// follow the wrap chain. Nothing above the port layer reads message text.
// The daemon turns a class into an HTTP status in exactly one place
// (daemon/httpstatus).
package errdefs

import "errors"

// The classes. Wrap them: fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound).
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrConflict           = errors.New("conflict")
	ErrInvalidParameter   = errors.New("invalid parameter")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrNotImplemented     = errors.New("not implemented")
	ErrUnavailable        = errors.New("unavailable")
	ErrUnauthorized       = errors.New("unauthorized")
	ErrForbidden          = errors.New("forbidden")
	ErrNotModified        = errors.New("not modified")
)

// classed carries a user-facing message and a class. Error() returns only the
// message, so docker's exact texts reach the client unchanged.
type classed struct {
	msg   string
	class error
}

func (e *classed) Error() string        { return e.msg }
func (e *classed) Is(target error) bool { return target == e.class }

// New returns an error whose text is exactly msg and whose class is class.
func New(class error, msg string) error { return &classed{msg: msg, class: class} }

// NotFound, Conflict, ... build an error with docker's exact message text.
func NotFound(msg string) error           { return New(ErrNotFound, msg) }
func Conflict(msg string) error           { return New(ErrConflict, msg) }
func InvalidParameter(msg string) error   { return New(ErrInvalidParameter, msg) }
func FailedPrecondition(msg string) error { return New(ErrFailedPrecondition, msg) }
func NotImplemented(msg string) error     { return New(ErrNotImplemented, msg) }
func Unavailable(msg string) error        { return New(ErrUnavailable, msg) }

func IsNotFound(err error) bool           { return errors.Is(err, ErrNotFound) }
func IsAlreadyExists(err error) bool      { return errors.Is(err, ErrAlreadyExists) }
func IsConflict(err error) bool           { return errors.Is(err, ErrConflict) }
func IsInvalidParameter(err error) bool   { return errors.Is(err, ErrInvalidParameter) }
func IsFailedPrecondition(err error) bool { return errors.Is(err, ErrFailedPrecondition) }
func IsNotImplemented(err error) bool     { return errors.Is(err, ErrNotImplemented) }
func IsUnavailable(err error) bool        { return errors.Is(err, ErrUnavailable) }
func IsUnauthorized(err error) bool       { return errors.Is(err, ErrUnauthorized) }
func IsForbidden(err error) bool          { return errors.Is(err, ErrForbidden) }
func IsNotModified(err error) bool        { return errors.Is(err, ErrNotModified) }
