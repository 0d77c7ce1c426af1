package container

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// msgError prints Docker's message and carries an errdefs class.
type msgError struct {
	msg   string
	class error
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) error {
	return &msgError{msg: fmt.Sprintf(format, args...), class: class}
}

func errNoSuchContainer(ref string) error {
	return errorf(errdefs.ErrNotFound, "No such container: %s", ref)
}

func errNameInUse(name, id string) error {
	return errorf(errdefs.ErrConflict, "Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, id)
}

func errInvalidName(name string) error {
	return errorf(errdefs.ErrInvalidArgument, "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
}

func errNotRunning(id string) error {
	return errorf(errdefs.ErrConflict, "container %s is not running", id)
}

func errPaused(id string) error {
	return errorf(errdefs.ErrConflict, "container %s is paused, unpause the container before stopping or killing", id)
}
