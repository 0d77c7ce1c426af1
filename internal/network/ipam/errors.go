package ipam

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

// classError prints dockerd's exact text and carries an errdefs class.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: class}
}

// The conditions callers branch on. Each prints dockerd's text and is
// classified with the errdefs class whose HTTP status dockerd returns.
var (
	// ErrPoolOverlap is libnetwork's ipamapi.ErrPoolOverlap: a requested
	// subnet overlaps another network's. dockerd answers 403 Forbidden,
	// hence errdefs.ErrPermissionDenied; the full message is "invalid pool
	// request: Pool overlaps with other one on this address space".
	ErrPoolOverlap = &classError{"Pool overlaps with other one on this address space", errdefs.ErrPermissionDenied}

	// ErrAddressInUse is libnetwork's ErrIPAlreadyAllocated (403): the fixed
	// address is held by another endpoint, is the gateway, or is the network
	// or broadcast address.
	ErrAddressInUse = &classError{"Address already in use", errdefs.ErrPermissionDenied}

	// ErrNoAvailableIPs is libnetwork's ErrNoAvailableIPs (503): every
	// address of the network's range is taken.
	ErrNoAvailableIPs = &classError{"no available addresses on this pool", errdefs.ErrUnavailable}

	// ErrNoMoreSubnets is libnetwork's ErrNoMoreSubnets (400): the default
	// address pools hold no subnet that is free of networks and host routes.
	ErrNoMoreSubnets = &classError{"all predefined address pools have been fully subnetted", errdefs.ErrInvalidArgument}
)

// errOutsideSubnets is the endpoint-settings error for a fixed address that
// no subnet of the network contains (dockerd: 400).
func errOutsideSubnets(a netip.Addr) error {
	return errorf(errdefs.ErrInvalidArgument, "no configured subnet or ip-range contain the IP address %s", a)
}

// errStaticOnAutoSubnet is dockerd's answer to --ip on a network whose
// subnets were chosen by the daemon (400).
func errStaticOnAutoSubnet() error {
	return errorf(errdefs.ErrInvalidArgument, "user specified IP address is supported only when connecting to networks with user configured subnets")
}

func errNoNetwork(id string) error {
	return errorf(errdefs.ErrNotFound, "network %s not found", id)
}

// invalidConfig joins dockerd's per-field messages under its heading
// "invalid network config:" (api/types/network.ValidateIPAM).
func invalidConfig(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msg := "invalid network config:\n"
	if len(errs) == 1 {
		msg += errs[0].Error()
	} else {
		for i, e := range errs {
			if i > 0 {
				msg += "\n"
			}
			msg += "* " + e.Error()
		}
	}
	return &classError{msg: msg, class: errdefs.ErrInvalidArgument}
}

// invalid is a plain InvalidArgument message.
func invalid(format string, args ...any) error {
	return errorf(errdefs.ErrInvalidArgument, format, args...)
}
