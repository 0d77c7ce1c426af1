package spec

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// Docker's message texts. Each helper returns an error of the errdefs class
// dockerd uses for it, whose Error() is exactly dockerd's text.

// errUnknownUser is libcontainer's message for a user name that is not in
// the container's /etc/passwd.
func errUnknownUser(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to find user %s: no matching entries in passwd file", name))
}

// errUnknownGroup is libcontainer's message for a group name that is not in
// the container's /etc/group.
func errUnknownGroup(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to find group %s: no matching entries in group file", name))
}

// errUnknownAdditionalGroup is libcontainer's message for a --group-add
// entry that is neither a known group nor a number.
func errUnknownAdditionalGroup(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unable to find group %s: no matching entries in group file", name))
}

// errIDRange is libcontainer's message for a numeric uid or gid out of range.
func errIDRange() error {
	return errdefs.ErrInvalidArgument.WithMessage("uids and gids must be in range 0-2147483647")
}

// errUnknownCapability is dockerd's message for a --cap-add/--cap-drop name
// it does not know.
func errUnknownCapability(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown capability: %q", name))
}

// errUnavailableCapability is dockerd's message for a capability the kernel
// knows but this process does not hold.
func errUnavailableCapability(name string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("capability not supported by your kernel or not available in the current environment: %q", name))
}

// errSecurityOpt is dockerd's message for a malformed --security-opt; n is
// 1 for an option without a separator and 2 for an unknown key or value.
func errSecurityOpt(n int, opt string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt %d: %q", n, opt))
}

// errInvalidSpec is the volume parser's message for a -v value that cannot
// be split into source, destination and mode; cause may be nil.
func errInvalidSpec(raw string, cause error) error {
	msg := fmt.Sprintf("invalid volume specification: '%s'", raw)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return errdefs.ErrInvalidArgument.WithMessage(msg)
}

// errInvalidMode is the volume parser's message for an unknown -v mode.
func errInvalidMode(mode string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mode: %s", mode))
}

// errMountConfig is the volume parser's message for an invalid mount of type
// typ: `invalid mount config for type "bind": <cause>`.
func errMountConfig(typ, cause string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type %q: %s", typ, cause))
}

// errDuplicateMount is dockerd's message for two mounts on one destination.
func errDuplicateMount(dst string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Duplicate mount point: %s", dst))
}

// Causes used inside errMountConfig and errInvalidSpec.
const (
	msgTargetIsRoot = "invalid specification: destination can't be '/'"
)

func msgNotAbsolute(p string) string {
	return fmt.Sprintf("invalid mount path: '%s' mount path must be absolute", p)
}

func msgBindSourceMissing(p string) string {
	return fmt.Sprintf("bind source path does not exist: %s", p)
}

func msgExtraField(name string) string {
	return fmt.Sprintf("field %s must not be specified", name)
}

func msgMissingField(name string) string {
	return fmt.Sprintf("field %s must not be empty", name)
}
