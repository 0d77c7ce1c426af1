package bridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// writeSysctl writes value to /proc/sys/<key>. /proc/sys/net follows the
// network namespace of the thread that opens the file.
func writeSysctl(key, value string) error {
	return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)
}

// readSysctl reads /proc/sys/<key> without its trailing newline.
func readSysctl(key string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func boolValue(on bool) string {
	if on {
		return "1"
	}
	return "0"
}

// SetIPForward sets net.ipv4.ip_forward, which routing containers' traffic off
// the bridge needs (dockerd's --ip-forward, on by default). It writes only when
// the value differs.
func SetIPForward(ctx context.Context, on bool) error {
	return setIfDifferent("net/ipv4/ip_forward", boolValue(on))
}

// SetIPv6Forward sets net.ipv6.conf.all.forwarding, the IPv6 counterpart of
// SetIPForward. A kernel without IPv6 makes enabling it errdefs.ErrNotImplemented.
func SetIPv6Forward(ctx context.Context, on bool) error {
	err := setIfDifferent("net/ipv6/conf/all/forwarding", boolValue(on))
	if errors.Is(err, os.ErrNotExist) {
		if !on {
			return nil
		}
		return fmt.Errorf("ipv6 forwarding: kernel without IPv6: %w", errdefs.ErrNotImplemented)
	}
	return err
}

// SetRouteLocalnet sets net.ipv4.conf.<ifName>.route_localnet, which lets
// packets with a 127.0.0.0/8 address be routed through ifName (needed to DNAT
// localhost connections to a container without a userland proxy).
func SetRouteLocalnet(ctx context.Context, ifName string, on bool) error {
	if !ValidIfName(ifName) {
		return fmt.Errorf("interface name %q: %w", ifName, errdefs.ErrInvalidArgument)
	}
	err := setIfDifferent("net/ipv4/conf/"+ifName+"/route_localnet", boolValue(on))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("route_localnet: interface %s: %w", ifName, errdefs.ErrNotFound)
	}
	return err
}

// SetHairpin turns hairpin mode on or off on a bridge port (a host-side veth),
// so that traffic the port sends can be bridged back out of it: a container
// reaching its own published port through the host's address needs it.
func SetHairpin(ctx context.Context, port string, on bool) error {
	if !ValidIfName(port) {
		return fmt.Errorf("interface name %q: %w", port, errdefs.ErrInvalidArgument)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("hairpin %s: netlink: %w", port, err)
	}
	defer h.Close()
	link, err := h.LinkByName(port)
	if isNotFound(err) {
		return fmt.Errorf("hairpin: interface %s: %w", port, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("hairpin %s: %w", port, err)
	}
	if err := h.LinkSetHairpin(link, on); err != nil {
		return fmt.Errorf("hairpin %s: %w", port, err)
	}
	return nil
}

func setIfDifferent(key, value string) error {
	cur, err := readSysctl(key)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", key, err)
	}
	if cur == value {
		return nil
	}
	if err := writeSysctl(key, value); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
