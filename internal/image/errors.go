package image

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// NotFoundError is Docker's "No such image: REF". It is classified as
// errdefs.ErrNotFound.
type NotFoundError struct {
	// Ref is the reference as Docker prints it: familiar, with ":latest"
	// added to a bare name.
	Ref string
}

// Error returns Docker's text.
func (e *NotFoundError) Error() string { return "No such image: " + e.Ref }

// Unwrap classifies the error as errdefs.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return errdefs.ErrNotFound }

// classOnly wraps a class sentinel but prints nothing, so that Docker's exact
// text stays the whole message.
type classOnly struct{ class error }

func (c classOnly) Error() string { return "" }
func (c classOnly) Unwrap() error { return c.class }

// invalid returns a message classified as errdefs.ErrInvalidArgument, with no
// suffix added to the text.
func invalid(format string, args ...any) error {
	return fmt.Errorf(format+"%w", append(args, classOnly{errdefs.ErrInvalidArgument})...)
}

// invalidErr classifies err as errdefs.ErrInvalidArgument keeping its text.
func invalidErr(err error) error {
	return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrInvalidArgument})
}

// conflict returns a message classified as errdefs.ErrConflict.
func conflict(format string, args ...any) error {
	return fmt.Errorf(format+"%w", append(args, classOnly{errdefs.ErrConflict})...)
}

// deleteConflict is dockerd's imageDeleteConflict text:
// "conflict: unable to delete ID (must be forced) - MESSAGE", with
// "cannot be forced" for hard conflicts (a running container).
func deleteConflict(id string, hard bool, message string) error {
	force := "must be forced"
	if hard {
		force = "cannot be forced"
	}
	return conflict("conflict: unable to delete %s (%s) - %s", shortID(id), force, message)
}
