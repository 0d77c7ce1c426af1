// Package bridge builds the data path of berth's bridge networks with netlink:
// Linux bridges with their gateway addresses, veth endpoints that join a
// container's network namespace to a bridge, the host's routes (which IPAM
// avoids), and the few sysctls the data path needs.
//
// # Namespaces
//
// Host-side calls act in the network namespace of the calling thread, which for
// berthd is the host's. Container-side work happens in the namespace named by a
// path (see package berth/internal/network/netns), entered on a separate locked
// thread, so the caller's thread never changes namespace. Tests rely on this:
// they move their goroutine into a namespace of their own and the host never
// sees a bridge or a veth.
//
// # What it does not do
//
// No IP address management (ipam decides the addresses), no firewall, NAT or
// port publishing (nft), and no record of what exists: the caller keeps the
// host-side veth name that Attach returns.
package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// maxIfName is the longest Linux interface name (IFNAMSIZ-1).
const maxIfName = 15

// Name returns the bridge name Docker gives a user-defined network: "br-"
// followed by the first 12 characters of the network ID.
func Name(networkID string) string {
	if len(networkID) > 12 {
		networkID = networkID[:12]
	}
	return "br-" + networkID
}

// ValidIfName reports whether name can name a Linux network interface.
func ValidIfName(name string) bool {
	if name == "" || len(name) > maxIfName || name == "." || name == ".." {
		return false
	}
	for _, c := range name {
		if c == '/' || c == ':' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Option adjusts EnsureBridge.
type Option func(*bridgeOptions)

type bridgeOptions struct {
	routeLocalnet bool
	mac           net.HardwareAddr
}

// WithRouteLocalnet sets route_localnet on the bridge, so that connections to
// 127.0.0.1 that nftables DNATs to a container may leave through it. berth
// publishes ports without a userland proxy and needs this for localhost access.
func WithRouteLocalnet() Option { return func(o *bridgeOptions) { o.routeLocalnet = true } }

// WithMAC gives a new bridge this hardware address instead of a random one.
func WithMAC(mac net.HardwareAddr) Option { return func(o *bridgeOptions) { o.mac = mac } }

// EnsureBridge creates the bridge name with the given gateway addresses (for
// example 172.18.0.1/16 and fd00::1/64), MTU (0 keeps the kernel's default) and
// brings it up. A bridge that already exists is adopted: missing gateway
// addresses are added and its MTU is set; addresses it has besides them are
// left alone. A link of that name that is not a bridge, or a gateway address the
// bridge already holds with another prefix length, is errdefs.ErrConflict. A
// bridge created by this call is removed again if a later step fails.
//
// A new bridge gets a random, stable MAC address (the kernel would otherwise
// change it as ports come and go), and IPv6 is disabled on it unless one of the
// gateways is IPv6.
func EnsureBridge(ctx context.Context, name string, gateways []netip.Prefix, mtu int, opts ...Option) (retErr error) {
	if !ValidIfName(name) {
		return fmt.Errorf("bridge name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	if mtu < 0 || mtu > 65535 {
		return fmt.Errorf("bridge %s: mtu %d: %w", name, mtu, errdefs.ErrInvalidArgument)
	}
	for _, gw := range gateways {
		if !gw.IsValid() || gw.Addr().Is4In6() || gw.Addr().Zone() != "" {
			return fmt.Errorf("bridge %s: invalid gateway address %s: %w", name, gw, errdefs.ErrInvalidArgument)
		}
	}
	var o bridgeOptions
	for _, opt := range opts {
		opt(&o)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("bridge %s: netlink: %w", name, err)
	}
	defer h.Close()

	link, err := h.LinkByName(name)
	var created bool
	switch {
	case err == nil:
		if link.Type() != "bridge" {
			return fmt.Errorf("bridge %s: a %s link of that name exists: %w", name, link.Type(), errdefs.ErrConflict)
		}
		if mtu > 0 && link.Attrs().MTU != mtu {
			if err := h.LinkSetMTU(link, mtu); err != nil {
				return fmt.Errorf("bridge %s: set mtu %d: %w", name, mtu, err)
			}
		}
	case isNotFound(err):
		la := netlink.NewLinkAttrs()
		la.Name = name
		la.MTU = mtu
		la.HardwareAddr = o.mac
		if la.HardwareAddr == nil {
			la.HardwareAddr = RandomMAC()
		}
		br := &netlink.Bridge{LinkAttrs: la}
		if err := h.LinkAdd(br); err != nil {
			return fmt.Errorf("bridge %s: create: %w", name, err)
		}
		created = true
		link = br
		defer func() {
			if retErr != nil {
				if err := h.LinkDel(br); err != nil {
					log.From(ctx).Warn("bridge: rollback failed", "network", name, "err", err)
				}
			}
		}()
	default:
		return fmt.Errorf("bridge %s: %w", name, err)
	}

	hasV6 := false
	for _, gw := range gateways {
		hasV6 = hasV6 || gw.Addr().Is6()
	}
	if hasV6 {
		if err := writeSysctl("net/ipv6/conf/"+name+"/disable_ipv6", "0"); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("bridge %s: enable IPv6: %w", name, err)
		}
	} else if created {
		if err := writeSysctl("net/ipv6/conf/"+name+"/disable_ipv6", "1"); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("bridge %s: disable IPv6: %w", name, err)
		}
	}
	if err := ensureAddrs(h, link, gateways); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if o.routeLocalnet {
		if err := writeSysctl("net/ipv4/conf/"+name+"/route_localnet", "1"); err != nil {
			return fmt.Errorf("bridge %s: route_localnet: %w", name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bridge %s: up: %w", name, err)
	}
	return nil
}

// ensureAddrs adds each prefix to link unless it holds it already.
func ensureAddrs(h *netlink.Handle, link netlink.Link, want []netip.Prefix) error {
	have, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
next:
	for _, p := range want {
		for _, a := range have {
			ap, ok := prefixOf(a.IPNet)
			if !ok || ap.Addr() != p.Addr().Unmap() {
				continue
			}
			if ap.Bits() != p.Bits() {
				return fmt.Errorf("address %s already assigned as %s: %w", p.Addr(), ap, errdefs.ErrConflict)
			}
			continue next
		}
		if err := h.AddrAdd(link, nlAddr(p)); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add address %s: %w", p, err)
		}
	}
	return nil
}

// DeleteBridge removes the bridge name. Its ports are released, not deleted.
// A missing bridge is not an error; a link of that name that is not a bridge
// is errdefs.ErrConflict and stays.
func DeleteBridge(ctx context.Context, name string) error {
	if !ValidIfName(name) {
		return fmt.Errorf("bridge name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("bridge %s: netlink: %w", name, err)
	}
	defer h.Close()
	link, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if link.Type() != "bridge" {
		return fmt.Errorf("bridge %s: a %s link of that name exists: %w", name, link.Type(), errdefs.ErrConflict)
	}
	if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("bridge %s: delete: %w", name, err)
	}
	return nil
}

// RandomMAC returns a random unicast, locally administered MAC address. This is
// what dockerd gives a container's interface since v26 (before, it was
// 02:42 followed by the IPv4 address; see MACFromIPv4).
func RandomMAC() net.HardwareAddr {
	mac := make(net.HardwareAddr, 6)
	_, _ = rand.Read(mac) // crypto/rand.Read never fails
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}

// MACFromIPv4 returns 02:42 followed by the four bytes of ip, the MAC address
// dockerd derived from a container's IPv4 address before v26. It returns nil
// for an address that is not IPv4.
func MACFromIPv4(ip netip.Addr) net.HardwareAddr {
	ip = ip.Unmap()
	if !ip.Is4() {
		return nil
	}
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// randomName returns prefix followed by n random hex digits.
func randomName(prefix string, n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:n]
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// prefixOf turns a netlink address into a prefix that keeps the host bits.
func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// ipNet turns a prefix into a net.IPNet that keeps the host bits.
func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	bits := 32
	if a.Is6() {
		bits = 128
	}
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}

// nlAddr is the netlink address for p; IPv6 addresses skip duplicate address
// detection, which would leave them unusable ("tentative") for a second or two.
func nlAddr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() && !p.Addr().Is4In6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}
