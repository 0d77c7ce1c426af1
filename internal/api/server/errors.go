package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/containerd/errdefs"
)

// StatusFor maps an error's errdefs class to the HTTP status Docker answers
// with. It is the one place where classes become statuses.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errdefs.IsNotFound(err):
		return http.StatusNotFound
	case errdefs.IsInvalidArgument(err), errdefs.IsFailedPrecondition(err), errdefs.IsOutOfRange(err):
		return http.StatusBadRequest
	case errdefs.IsConflict(err), errdefs.IsAlreadyExists(err), errdefs.IsAborted(err):
		return http.StatusConflict
	case errdefs.IsNotModified(err):
		return http.StatusNotModified
	case errdefs.IsUnauthorized(err):
		return http.StatusUnauthorized
	case errdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case errdefs.IsResourceExhausted(err):
		return http.StatusTooManyRequests
	case errdefs.IsNotImplemented(err):
		return http.StatusNotImplemented
	case errdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled):
		return 499
	}
	return http.StatusInternalServerError
}

// MessageError is an error whose client-facing text differs from its chain:
// the message is what Docker prints; the wrapped error carries the class.
type MessageError struct {
	Message string
	Err     error
}

// Error returns the client-facing message.
func (e *MessageError) Error() string { return e.Message }

// Unwrap returns the classified error.
func (e *MessageError) Unwrap() error { return e.Err }

// WithMessage returns an error that prints msg and is classified like class.
func WithMessage(class error, msg string) error { return &MessageError{Message: msg, Err: class} }
