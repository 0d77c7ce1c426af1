package volume

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
)

// classError is a fixed message carrying an errdefs class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

// The conditions callers branch on, with dockerd's texts. Test with errors.Is;
// each also matches its errdefs class.
var (
	// ErrNoSuchVolume is dockerd's "no such volume" (errdefs.ErrNotFound).
	ErrNoSuchVolume error = &classError{"no such volume", errdefs.ErrNotFound}
	// ErrInUse is dockerd's "volume is in use" (errdefs.ErrConflict).
	ErrInUse error = &classError{"volume is in use", errdefs.ErrConflict}
	// ErrNameConflict is dockerd's "volume name must be unique"
	// (errdefs.ErrConflict), for a name taken by another driver.
	ErrNameConflict error = &classError{"volume name must be unique", errdefs.ErrConflict}
)

// OpError is dockerd's volume error, printed "OP NAME: CAUSE" and, for a
// volume in use, " - [REF, REF]" after it: "remove data: volume is in use -
// [4f2a…]". It unwraps to its cause, so errors.Is and the errdefs classes see
// through it.
type OpError struct {
	// Op is the operation: "create", "get", "list", "remove", "mount",
	// "unmount", "seed".
	Op string
	// Name is the volume (or driver) name; may be empty.
	Name string
	// Err is the cause.
	Err error
	// Refs are the containers holding the volume, for ErrInUse.
	Refs []string
}

// Error returns dockerd's text.
func (e *OpError) Error() string {
	s := e.Op
	if e.Name != "" {
		s += " " + e.Name
	}
	s += ": " + e.Err.Error()
	if len(e.Refs) > 0 {
		s += " - [" + strings.Join(e.Refs, ", ") + "]"
	}
	return s
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, name string, err error) error {
	if _, ok := err.(*OpError); ok {
		return err
	}
	return &OpError{Op: op, Name: name, Err: err}
}

// invalid returns a message classified as errdefs.ErrInvalidArgument whose
// text is exactly the message.
func invalid(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrInvalidArgument}
}

// restrictedNameChars is dockerd's allowed character set for names.
const restrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// errInvalidName is the local driver's error for a bad name.
func errInvalidName(name string) error {
	if len(name) == 1 {
		return invalid("volume name is too short, names should be at least two alphanumeric characters")
	}
	return invalid("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, restrictedNameChars)
}
