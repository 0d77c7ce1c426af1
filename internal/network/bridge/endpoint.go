package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/log"
	"berth/internal/network/netns"
)

// EndpointConfig describes a container's interface on a bridge.
type EndpointConfig struct {
	// Bridge is the bridge the host side joins. It must exist.
	Bridge string
	// NSPath names the container's network namespace (see netns.New).
	NSPath string
	// IfName is the interface name inside the container: eth0 for the first
	// network, eth1 for the next. It must be free in the namespace.
	IfName string
	// MAC is the interface's hardware address; nil picks RandomMAC.
	MAC net.HardwareAddr
	// Addrs are the interface's addresses with their subnet's prefix length,
	// such as 172.18.0.2/16.
	Addrs []netip.Prefix
	// Gateway4 and Gateway6, when valid, become the default routes. A gateway
	// outside every subnet of Addrs gets a link route first.
	Gateway4, Gateway6 netip.Addr
	// MTU of both ends of the veth pair; 0 keeps the kernel's default.
	MTU int
	// Hairpin sets hairpin mode on the bridge port (see SetHairpin).
	Hairpin bool
}

// Endpoint is an attached interface.
type Endpoint struct {
	// HostIfName is the host side of the veth pair, "veth" and 7 hex digits as
	// dockerd names them; Detach takes it.
	HostIfName string
	// MAC is the container side's hardware address.
	MAC net.HardwareAddr
}

// vethAttempts bounds the retries when a random veth name is taken.
const vethAttempts = 5

// Attach creates a veth pair, puts the host side on cfg.Bridge and the other
// side into the namespace at cfg.NSPath as cfg.IfName, configured with its MAC,
// addresses and default routes and up; it also brings the namespace's loopback
// up. IPv6 is disabled on the interface when cfg.Addrs has no IPv6 address, as
// dockerd does. On any error the pair is deleted again, so nothing is left
// behind. A missing bridge or namespace is errdefs.ErrNotFound; an IfName
// already used in the namespace is errdefs.ErrAlreadyExists.
func Attach(ctx context.Context, cfg EndpointConfig) (_ Endpoint, retErr error) {
	if err := cfg.validate(); err != nil {
		return Endpoint{}, err
	}
	mac := cfg.MAC
	if mac == nil {
		mac = RandomMAC()
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return Endpoint{}, fmt.Errorf("attach to %s: netlink: %w", cfg.Bridge, err)
	}
	defer h.Close()
	br, err := h.LinkByName(cfg.Bridge)
	if isNotFound(err) {
		return Endpoint{}, fmt.Errorf("attach: bridge %s: %w", cfg.Bridge, errdefs.ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("attach: bridge %s: %w", cfg.Bridge, err)
	}
	if br.Type() != "bridge" {
		return Endpoint{}, fmt.Errorf("attach: %s is a %s, not a bridge: %w", cfg.Bridge, br.Type(), errdefs.ErrInvalidArgument)
	}
	nsfd, err := unix.Open(cfg.NSPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return Endpoint{}, fmt.Errorf("attach: network namespace %s: %w", cfg.NSPath, errdefs.ErrNotFound)
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("attach: network namespace %s: %w", cfg.NSPath, err)
	}
	defer func() { _ = unix.Close(nsfd) }()

	// The peer is created directly inside the container's namespace under its
	// final name and MAC: one netlink request, and a name clash there fails
	// before anything exists.
	var veth *netlink.Veth
	for attempt := 0; ; attempt++ {
		la := netlink.NewLinkAttrs()
		la.Name = randomName("veth", 7)
		la.MTU = cfg.MTU
		veth = &netlink.Veth{
			LinkAttrs:        la,
			PeerName:         cfg.IfName,
			PeerHardwareAddr: mac,
			PeerNamespace:    netlink.NsFd(nsfd),
		}
		err = h.LinkAdd(veth)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) {
			return Endpoint{}, fmt.Errorf("attach to %s: create veth: %w", cfg.Bridge, err)
		}
		if _, lerr := h.LinkByName(la.Name); lerr != nil {
			// The host name is free, so the clash is inside the namespace.
			return Endpoint{}, fmt.Errorf("attach: interface %s in %s: %w", cfg.IfName, cfg.NSPath, errdefs.ErrAlreadyExists)
		}
		if attempt+1 == vethAttempts {
			return Endpoint{}, fmt.Errorf("attach to %s: no free veth name after %d tries: %w", cfg.Bridge, vethAttempts, err)
		}
	}
	defer func() {
		if retErr == nil {
			return
		}
		if err := h.LinkDel(veth); err != nil && !isNotFound(err) {
			log.From(ctx).Warn("bridge: rollback of veth failed", "network", cfg.Bridge, "err", err)
		}
	}()

	if err := h.LinkSetMasterByIndex(veth, br.Attrs().Index); err != nil {
		return Endpoint{}, fmt.Errorf("attach %s to %s: %w", veth.Name, cfg.Bridge, err)
	}
	if cfg.Hairpin {
		if err := h.LinkSetHairpin(veth, true); err != nil {
			return Endpoint{}, fmt.Errorf("attach: hairpin on %s: %w", veth.Name, err)
		}
	}
	if err := netns.DoFD(ctx, nsfd, func() error { return configureInside(cfg) }); err != nil {
		return Endpoint{}, fmt.Errorf("attach: configure %s in %s: %w", cfg.IfName, cfg.NSPath, err)
	}
	if err := h.LinkSetUp(veth); err != nil {
		return Endpoint{}, fmt.Errorf("attach: up %s: %w", veth.Name, err)
	}
	return Endpoint{HostIfName: veth.Name, MAC: mac}, nil
}

func (cfg EndpointConfig) validate() error {
	bad := func(what string, args ...any) error {
		return fmt.Errorf("attach: "+what+": %w", append(args, errdefs.ErrInvalidArgument)...)
	}
	switch {
	case !ValidIfName(cfg.Bridge):
		return bad("bridge name %q", cfg.Bridge)
	case !ValidIfName(cfg.IfName):
		return bad("interface name %q", cfg.IfName)
	case cfg.NSPath == "":
		return bad("no network namespace")
	case cfg.MTU < 0 || cfg.MTU > 65535:
		return bad("mtu %d", cfg.MTU)
	case cfg.MAC != nil && (len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0):
		return bad("MAC address %s is not a unicast Ethernet address", cfg.MAC)
	case cfg.Gateway4.IsValid() && !cfg.Gateway4.Is4():
		return bad("IPv4 gateway %s", cfg.Gateway4)
	case cfg.Gateway6.IsValid() && (!cfg.Gateway6.Is6() || cfg.Gateway6.Is4In6()):
		return bad("IPv6 gateway %s", cfg.Gateway6)
	}
	for _, p := range cfg.Addrs {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return bad("address %s", p)
		}
	}
	return nil
}

// configureInside runs on a thread inside the container's namespace.
func configureInside(cfg EndpointConfig) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	link, err := h.LinkByName(cfg.IfName)
	if err != nil {
		return err
	}
	hasV6 := false
	for _, p := range cfg.Addrs {
		hasV6 = hasV6 || p.Addr().Is6()
	}
	// Before any address: with IPv6 off the kernel adds no link-local one.
	if err := writeSysctl("net/ipv6/conf/"+cfg.IfName+"/disable_ipv6", boolValue(!hasV6)); err != nil && !errors.Is(err, unix.ENOENT) {
		if hasV6 {
			return fmt.Errorf("enable IPv6: %w", err)
		}
		return fmt.Errorf("disable IPv6: %w", err)
	}
	for _, p := range cfg.Addrs {
		if err := h.AddrAdd(link, nlAddr(p)); err != nil {
			return fmt.Errorf("add address %s: %w", p, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	for _, gw := range []netip.Addr{cfg.Gateway4, cfg.Gateway6} {
		if !gw.IsValid() {
			continue
		}
		if err := addDefaultRoute(h, link, gw, cfg.Addrs); err != nil {
			return err
		}
	}
	return nil
}

func addDefaultRoute(h *netlink.Handle, link netlink.Link, gw netip.Addr, addrs []netip.Prefix) error {
	bits := 32
	if gw.Is6() {
		bits = 128
	}
	onLink := false
	for _, p := range addrs {
		onLink = onLink || p.Masked().Contains(gw)
	}
	if !onLink {
		r := &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Scope:     netlink.SCOPE_LINK,
			Dst:       ipNet(netip.PrefixFrom(gw, bits)),
		}
		if err := h.RouteAdd(r); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("route to gateway %s: %w", gw, err)
		}
	}
	r := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IP(netip.IPv6Unspecified().AsSlice()), Mask: net.CIDRMask(0, 128)},
		Gw:        net.IP(gw.AsSlice()),
	}
	if gw.Is4() {
		r.Dst = &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("default route via %s: %w", gw, err)
	}
	return nil
}

// Detach deletes the veth pair whose host side is hostIfName, which removes
// the container side too: this is for disconnecting a running container. A
// netlink delete waits for the kernel to unregister the pair (about 30 ms), so
// a stopped container's endpoints are better left to netns.Delete, whose
// namespace clean-up removes them in the background. A missing interface is not
// an error; an interface of that name that is not a veth is
// errdefs.ErrInvalidArgument and stays.
func Detach(ctx context.Context, hostIfName string) error {
	if !ValidIfName(hostIfName) {
		return fmt.Errorf("detach: interface name %q: %w", hostIfName, errdefs.ErrInvalidArgument)
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("detach %s: netlink: %w", hostIfName, err)
	}
	defer h.Close()
	link, err := h.LinkByName(hostIfName)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("detach %s: %w", hostIfName, err)
	}
	if link.Type() != "veth" {
		return fmt.Errorf("detach: %s is a %s, not a veth: %w", hostIfName, link.Type(), errdefs.ErrInvalidArgument)
	}
	if err := h.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("detach %s: %w", hostIfName, err)
	}
	return nil
}
