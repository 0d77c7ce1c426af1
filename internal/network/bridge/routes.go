package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// HostRoutes returns the networks the host already reaches: the destination of
// every route in the main table and the subnet of every address on its
// interfaces, IPv4 and IPv6, masked, sorted and without duplicates. IPAM picks
// subnets that overlap none of them. Default routes (which overlap everything),
// loopback, link-local and multicast networks are left out.
func HostRoutes(ctx context.Context) ([]netip.Prefix, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("host routes: netlink: %w", err)
	}
	defer h.Close()
	seen := map[netip.Prefix]bool{}
	add := func(p netip.Prefix, ok bool) {
		if !ok || p.Bits() == 0 {
			return
		}
		a := p.Addr()
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsLinkLocalMulticast() {
			return
		}
		seen[p.Masked()] = true
	}
	// A dump that races with a change is interrupted; it is retried.
	var routes []netlink.Route
	var addrs []netlink.Addr
	for try := 0; ; try++ {
		routes, err = h.RouteList(nil, netlink.FAMILY_ALL)
		if err == nil {
			addrs, err = h.AddrList(nil, netlink.FAMILY_ALL)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) || try == 4 {
			return nil, fmt.Errorf("host routes: %w", err)
		}
	}
	for _, r := range routes {
		add(prefixOf(r.Dst))
	}
	for _, a := range addrs {
		add(prefixOf(a.IPNet))
	}
	out := make([]netip.Prefix, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return out, nil
}
