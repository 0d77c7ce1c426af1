package bridge_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/network/bridge"
	"berth/internal/network/netns"
	"berth/internal/testutil"
)

// newContainerNS makes a persistent namespace under the test's temp dir.
func newContainerNS(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := netns.New(ctx, p); err != nil {
		t.Fatalf("netns.New: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(context.WithoutCancel(ctx), p); err != nil {
			t.Errorf("netns.Delete: %v", err)
		}
	})
	return p
}

// ensureBridge creates a bridge in the test's namespace and removes it at the end.
func ensureBridge(t *testing.T, ctx context.Context, name string, gws ...string) {
	t.Helper()
	var ps []netip.Prefix
	for _, g := range gws {
		ps = append(ps, netip.MustParsePrefix(g))
	}
	if err := bridge.EnsureBridge(ctx, name, ps, 1400, bridge.WithRouteLocalnet()); err != nil {
		t.Fatalf("EnsureBridge: %v", err)
	}
	t.Cleanup(func() {
		if err := bridge.DeleteBridge(context.WithoutCancel(ctx), name); err != nil {
			t.Errorf("DeleteBridge: %v", err)
		}
	})
}

func attach(t *testing.T, ctx context.Context, cfg bridge.EndpointConfig) bridge.Endpoint {
	t.Helper()
	ep, err := bridge.Attach(ctx, cfg)
	if err != nil {
		t.Fatalf("Attach(%s): %v", cfg.NSPath, err)
	}
	t.Cleanup(func() { _ = bridge.Detach(context.WithoutCancel(ctx), ep.HostIfName) })
	return ep
}

// veths lists the veth interfaces of the calling thread's namespace.
func veths(t *testing.T) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Type() == "veth" {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// inNS runs fn in the namespace at path and fails the test on error.
func inNS(t *testing.T, ctx context.Context, path string, fn func() error) {
	t.Helper()
	if err := netns.Do(ctx, path, fn); err != nil {
		t.Fatalf("in %s: %v", path, err)
	}
}

// roundTrip listens on addr inside nsA, dials it from nsB and checks that
// bytes travel both ways.
func roundTrip(t *testing.T, ctx context.Context, nsA, nsB string, addr netip.Addr) {
	t.Helper()
	var ln net.Listener
	inNS(t, ctx, nsA, func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
		return err
	})
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, io.LimitReader(c, 5)) // echo "hello"
		done <- err
	}()
	var c net.Conn
	dial := func() (err error) {
		c, err = net.Dial("tcp", ln.Addr().String())
		return err
	}
	if nsB == "" {
		if err := dial(); err != nil {
			t.Fatalf("dial %s from the test namespace: %v", ln.Addr(), err)
		}
	} else {
		inNS(t, ctx, nsB, dial)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(c, 5))
	if err != nil || !bytes.Equal(got, []byte("hello")) {
		t.Fatalf("echo over %s: %q, %v", ln.Addr(), got, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
}

func TestAttach_ContainersReachEachOtherOverTheBridge(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)

	ensureBridge(t, ctx, "brtest0", "10.99.0.1/24", "fd00:99::1/64")
	nsA := newContainerNS(t, ctx, "a")
	nsB := newContainerNS(t, ctx, "b")
	a4, b4 := netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("10.99.0.3")
	a6 := netip.MustParseAddr("fd00:99::2")
	epA := attach(t, ctx, bridge.EndpointConfig{
		Bridge: "brtest0", NSPath: nsA, IfName: "eth0", MTU: 1400, Hairpin: true,
		Addrs:    []netip.Prefix{netip.PrefixFrom(a4, 24), netip.PrefixFrom(a6, 64)},
		Gateway4: netip.MustParseAddr("10.99.0.1"), Gateway6: netip.MustParseAddr("fd00:99::1"),
	})
	macB := bridge.MACFromIPv4(b4)
	epB := attach(t, ctx, bridge.EndpointConfig{
		Bridge: "brtest0", NSPath: nsB, IfName: "eth0", MTU: 1400, MAC: macB,
		Addrs:    []netip.Prefix{netip.PrefixFrom(b4, 24), netip.MustParsePrefix("fd00:99::3/64")},
		Gateway4: netip.MustParseAddr("10.99.0.1"), Gateway6: netip.MustParseAddr("fd00:99::1"),
	})

	// The host side: dockerd's name pattern, on the bridge, up, hairpin as asked.
	re := regexp.MustCompile(`^veth[0-9a-f]{7}$`)
	br, err := netlink.LinkByName("brtest0")
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []bridge.Endpoint{epA, epB} {
		if !re.MatchString(ep.HostIfName) {
			t.Errorf("host veth %q does not look like dockerd's", ep.HostIfName)
		}
		l, err := netlink.LinkByName(ep.HostIfName)
		if err != nil {
			t.Fatalf("host veth: %v", err)
		}
		if l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MTU != 1400 {
			t.Errorf("host veth %s: master %d (bridge %d), flags %v, mtu %d", ep.HostIfName,
				l.Attrs().MasterIndex, br.Attrs().Index, l.Attrs().Flags, l.Attrs().MTU)
		}
		pi, err := netlink.LinkGetProtinfo(l)
		if err != nil || pi.Hairpin != (ep.HostIfName == epA.HostIfName) {
			t.Errorf("host veth %s: protinfo %v, %v; want hairpin %v", ep.HostIfName, pi, err, ep.HostIfName == epA.HostIfName)
		}
	}
	if !bytes.Equal(epB.MAC, macB) || epA.MAC == nil {
		t.Errorf("endpoint MACs: %s, %s", epA.MAC, epB.MAC)
	}

	// The container side: eth0 with its MAC, MTU and addresses, lo up, default routes.
	inNS(t, ctx, nsA, func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if !bytes.Equal(l.Attrs().HardwareAddr, epA.MAC) || l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("eth0: mac %s (want %s), mtu %d, flags %v", l.Attrs().HardwareAddr, epA.MAC, l.Attrs().MTU, l.Attrs().Flags)
		}
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		var got []string
		for _, a := range addrs {
			got = append(got, a.IPNet.String())
		}
		for _, want := range []string{"10.99.0.2/24", "fd00:99::2/64"} {
			if !slices.Contains(got, want) {
				t.Errorf("eth0 addresses %v lack %s", got, want)
			}
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lo is down")
		}
		routes, err := netlink.RouteList(l, netlink.FAMILY_ALL)
		if err != nil {
			return err
		}
		var gws []string
		for _, r := range routes {
			if r.Gw != nil && (r.Dst == nil || strings.HasSuffix(r.Dst.String(), "/0")) {
				gws = append(gws, r.Gw.String())
			}
		}
		slices.Sort(gws)
		if !slices.Equal(gws, []string{"10.99.0.1", "fd00:99::1"}) {
			t.Errorf("default routes via %v", gws)
		}
		return nil
	})

	// Traffic: container to container over IPv4 and IPv6, and host to container.
	roundTrip(t, ctx, nsA, nsB, a4)
	roundTrip(t, ctx, nsA, nsB, a6)
	roundTrip(t, ctx, nsB, nsA, b4)
	roundTrip(t, ctx, nsA, "", a4)

	// Detach removes both ends; repeating it is harmless.
	for _, ep := range []bridge.Endpoint{epA, epB} {
		if err := bridge.Detach(ctx, ep.HostIfName); err != nil {
			t.Fatalf("Detach: %v", err)
		}
		if err := bridge.Detach(ctx, ep.HostIfName); err != nil {
			t.Fatalf("second Detach: %v", err)
		}
	}
	if v := veths(t); len(v) != 0 {
		t.Errorf("veths left after Detach: %v", v)
	}
	inNS(t, ctx, nsA, func() error {
		if _, err := netlink.LinkByName("eth0"); err == nil {
			t.Errorf("eth0 still in the container namespace after Detach")
		}
		return nil
	})
}

func TestAttach_RollsBackOnError(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)
	ensureBridge(t, ctx, "brtest1", "10.98.0.1/24")
	ns := newContainerNS(t, ctx, "c")
	cfg := bridge.EndpointConfig{Bridge: "brtest1", NSPath: ns, IfName: "eth0",
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.98.0.2/24")}, Gateway4: netip.MustParseAddr("10.98.0.1")}

	// Fails after the pair exists: the same address twice.
	bad := cfg
	bad.Addrs = []netip.Prefix{cfg.Addrs[0], cfg.Addrs[0]}
	if _, err := bridge.Attach(ctx, bad); err == nil {
		t.Fatal("Attach with a duplicate address succeeded")
	}
	if v := veths(t); len(v) != 0 {
		t.Fatalf("veths left after a failed Attach: %v", v)
	}
	inNS(t, ctx, ns, func() error {
		if _, err := netlink.LinkByName("eth0"); err == nil {
			t.Errorf("eth0 left in the namespace after a failed Attach")
		}
		return nil
	})

	// An interface name already taken in the namespace.
	attach(t, ctx, cfg)
	again := cfg
	again.Addrs = []netip.Prefix{netip.MustParsePrefix("10.98.0.3/24")}
	if _, err := bridge.Attach(ctx, again); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second eth0: %v, want AlreadyExists", err)
	}
	if v := veths(t); len(v) != 1 {
		t.Fatalf("veths after a clashing Attach: %v, want only the first", v)
	}

	// Missing bridge and namespace.
	nob := cfg
	nob.Bridge = "nosuchbr"
	if _, err := bridge.Attach(ctx, nob); !errdefs.IsNotFound(err) {
		t.Errorf("missing bridge: %v, want NotFound", err)
	}
	nons := cfg
	nons.NSPath = filepath.Join(t.TempDir(), "missing")
	if _, err := bridge.Attach(ctx, nons); !errdefs.IsNotFound(err) {
		t.Errorf("missing namespace: %v, want NotFound", err)
	}
}

func TestEnsureBridge_AdoptsAndConflicts(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)
	ensureBridge(t, ctx, "brtest2", "10.97.0.1/24")
	l1, err := netlink.LinkByName("brtest2")
	if err != nil {
		t.Fatal(err)
	}
	// Adopting: same index and MAC, a second gateway added, MTU changed.
	if err := bridge.EnsureBridge(ctx, "brtest2", []netip.Prefix{netip.MustParsePrefix("10.97.0.1/24"), netip.MustParsePrefix("10.96.0.1/24")}, 1300); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	l2, err := netlink.LinkByName("brtest2")
	if err != nil {
		t.Fatal(err)
	}
	if l2.Attrs().Index != l1.Attrs().Index || !bytes.Equal(l1.Attrs().HardwareAddr, l2.Attrs().HardwareAddr) || l2.Attrs().MTU != 1300 {
		t.Errorf("adopted bridge: index %d→%d, mac %s→%s, mtu %d", l1.Attrs().Index, l2.Attrs().Index,
			l1.Attrs().HardwareAddr, l2.Attrs().HardwareAddr, l2.Attrs().MTU)
	}
	if l2.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("bridge is down")
	}
	// The same gateway with another prefix length.
	err = bridge.EnsureBridge(ctx, "brtest2", []netip.Prefix{netip.MustParsePrefix("10.97.0.1/16")}, 0)
	if !errdefs.IsConflict(err) {
		t.Errorf("gateway with another prefix: %v, want Conflict", err)
	}
	// A link of that name that is not a bridge, and a bridge that is not a veth.
	vt := &netlink.Veth{LinkAttrs: netlink.NewLinkAttrs(), PeerName: "vethtestp"}
	vt.Name = "vethtest"
	if err := netlink.LinkAdd(vt); err != nil {
		t.Fatal(err)
	}
	if err := bridge.EnsureBridge(ctx, "vethtest", nil, 0); !errdefs.IsConflict(err) {
		t.Errorf("EnsureBridge over a veth: %v, want Conflict", err)
	}
	if err := bridge.DeleteBridge(ctx, "vethtest"); !errdefs.IsConflict(err) {
		t.Errorf("DeleteBridge of a veth: %v, want Conflict", err)
	}
	if err := bridge.Detach(ctx, "brtest2"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Detach of a bridge: %v, want InvalidArgument", err)
	}
	for _, n := range []string{"vethtest", "brtest2"} {
		if _, err := netlink.LinkByName(n); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
	if err := bridge.DeleteBridge(ctx, "nosuchbr"); err != nil {
		t.Errorf("DeleteBridge of a missing bridge: %v", err)
	}
	// route_localnet came from ensureBridge's option.
	var v []byte
	if v, err = os.ReadFile("/proc/sys/net/ipv4/conf/brtest2/route_localnet"); err != nil || strings.TrimSpace(string(v)) != "1" {
		t.Errorf("route_localnet = %q, %v", v, err)
	}
}

func TestHostRoutes_ListsBridgeSubnets(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)
	ensureBridge(t, ctx, "brtest3", "10.95.1.1/24", "fd00:95::1/64")
	got, err := bridge.HostRoutes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"10.95.1.0/24", "fd00:95::/64"} {
		if !slices.Contains(got, netip.MustParsePrefix(want)) {
			t.Errorf("HostRoutes() = %v, lacks %s", got, want)
		}
	}
	for _, p := range got {
		if p.Addr().IsLoopback() || p.Bits() == 0 || p.Addr().IsLinkLocalUnicast() {
			t.Errorf("HostRoutes() lists %s", p)
		}
	}
}

func TestSysctls_InTheCallersNamespace(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)
	for _, on := range []bool{true, false} {
		want := map[bool]string{true: "1", false: "0"}[on]
		if err := bridge.SetIPForward(ctx, on); err != nil {
			t.Fatal(err)
		}
		if v, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err != nil || strings.TrimSpace(string(v)) != want {
			t.Errorf("ip_forward = %q, %v; want %s", v, err, want)
		}
		if err := bridge.SetIPv6Forward(ctx, on); err != nil {
			t.Fatal(err)
		}
		if v, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/forwarding"); err != nil || strings.TrimSpace(string(v)) != want {
			t.Errorf("ipv6 forwarding = %q, %v; want %s", v, err, want)
		}
		if err := bridge.SetRouteLocalnet(ctx, "lo", on); err != nil {
			t.Fatal(err)
		}
	}
	if err := bridge.SetRouteLocalnet(ctx, "nosuchif", true); !errdefs.IsNotFound(err) {
		t.Errorf("route_localnet on a missing interface: %v, want NotFound", err)
	}
	if err := bridge.SetHairpin(ctx, "nosuchif", true); !errdefs.IsNotFound(err) {
		t.Errorf("hairpin on a missing interface: %v, want NotFound", err)
	}
}

// BenchmarkAttach measures the network set-up and tear-down a container pays:
// a namespace and an endpoint with IPv4, then the namespace's removal (which
// takes the endpoint with it; see TestDeleteNamespace_KernelReapsTheVeth).
func BenchmarkAttach(b *testing.B) {
	testutil.Require(b, testutil.Root)
	ctx := testutil.Context(b)
	testutil.EnterNetNS(b)
	if err := bridge.EnsureBridge(ctx, "brbench0", []netip.Prefix{netip.MustParsePrefix("10.94.0.1/16")}, 0); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for b.Loop() {
		p := filepath.Join(dir, "ns")
		if err := netns.New(ctx, p); err != nil {
			b.Fatal(err)
		}
		_, err := bridge.Attach(ctx, bridge.EndpointConfig{Bridge: "brbench0", NSPath: p, IfName: "eth0",
			Addrs: []netip.Prefix{netip.MustParsePrefix("10.94.0.2/16")}, Gateway4: netip.MustParseAddr("10.94.0.1"), Hairpin: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := netns.Delete(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
}

// Deleting a container's namespace is the fast way to tear its endpoints down:
// the kernel removes the veth pairs in the namespace's clean-up, without the
// synchronous wait a netlink delete has (tens of milliseconds per pair).
func TestDeleteNamespace_KernelReapsTheVeth(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	testutil.EnterNetNS(t)
	ensureBridge(t, ctx, "brtest4", "10.93.0.1/24")
	p := filepath.Join(t.TempDir(), "gone")
	if err := netns.New(ctx, p); err != nil {
		t.Fatal(err)
	}
	ep, err := bridge.Attach(ctx, bridge.EndpointConfig{Bridge: "brtest4", NSPath: p, IfName: "eth0",
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.93.0.2/24")}})
	if err != nil {
		t.Fatal(err)
	}
	updates := make(chan netlink.LinkUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.LinkSubscribe(updates, done); err != nil {
		t.Fatal(err)
	}
	if err := netns.Delete(ctx, p); err != nil {
		t.Fatal(err)
	}
	for u := range updates {
		if u.Header.Type == unix.RTM_DELLINK && u.Link.Attrs().Name == ep.HostIfName {
			break
		}
	}
	if v := veths(t); len(v) != 0 {
		t.Fatalf("veths after the namespace went: %v", v)
	}
}
