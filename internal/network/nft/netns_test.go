package nft_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"berth/internal/testutil"
)

// The privileged tests build their whole world in network namespaces they
// create, so the host's interfaces and nftables rules are never touched:
//
//	 remote ns                host ns (firewall under test)             container nss
//	 eth0 192.0.2.2 ── ext0 192.0.2.1
//	                          br-a 10.88.1.1/24 ── va ────── eth0 10.88.1.2  (ns a)
//	                          br-b 10.88.2.1/24 ── vb ────── eth0 10.88.2.2  (ns b)
//	                          br-i 10.88.3.1/24 ── vi ────── eth0 10.88.3.2  (ns i, --internal)
//
// The remote ns has no route to 10.88.0.0/16, so a container reaching it
// proves the masquerade.

// dialTimeout bounds a connection attempt the firewall is expected to drop:
// a drop is only observable as silence.
const dialTimeout = 400 * time.Millisecond

// newNS creates a network namespace closed at the end of the test.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var (
		ns  netns.NsHandle
		err error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread, now in the new namespace, exits
		// with the goroutine.
		runtime.LockOSThread()
		ns, err = netns.New()
	}()
	<-done
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	h := handle(t, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("lo up: %v", err)
	}
	return ns
}

// inNS runs fn on a thread in ns and returns its error.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, see newNS
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func handle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func addAddr(t *testing.T, h *netlink.Handle, link netlink.Link, cidr string) {
	t.Helper()
	a, err := netlink.ParseAddr(cidr)
	must(t, "parse "+cidr, err)
	must(t, "addr add "+cidr, h.AddrAdd(link, a))
	must(t, "link up", h.LinkSetUp(link))
}

// bridge creates a bridge with an address in the host ns.
func bridge(t *testing.T, h *netlink.Handle, name, cidr string) netlink.Link {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	must(t, "bridge "+name, h.LinkAdd(br))
	l, err := h.LinkByName(name)
	must(t, "bridge "+name, err)
	addAddr(t, h, l, cidr)
	return l
}

// wire creates a veth from the host ns (hostEnd, optionally enslaved to
// master) to eth0 in peer, addresses eth0 and routes peer's default traffic
// through gw (when set).
func wire(t *testing.T, host, peer netns.NsHandle, hostEnd string, master netlink.Link, peerCIDR, gw string) {
	t.Helper()
	h, p := handle(t, host), handle(t, peer)
	must(t, "veth "+hostEnd, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(peer))}))
	he, err := h.LinkByName(hostEnd)
	must(t, "veth "+hostEnd, err)
	if master != nil {
		must(t, "master", h.LinkSetMaster(he, master))
		// br_netfilter DNATs bridged traffic at the bridge layer, so a
		// container reaching its own published port is bridged back out
		// of the port it came in: the bridge driver must set hairpin mode
		// on every container port, as dockerd does without its proxy.
		must(t, "hairpin", h.LinkSetHairpin(he, true))
	}
	must(t, "up "+hostEnd, h.LinkSetUp(he))
	pe, err := p.LinkByName("eth0")
	must(t, "peer eth0", err)
	addAddr(t, p, pe, peerCIDR)
	if gw != "" {
		must(t, "default route", p.RouteAdd(&netlink.Route{Gw: net.ParseIP(gw)}))
	}
}

// whoamiServer listens on addr in ns and answers each TCP connection (or
// UDP datagram) with the client address it saw.
func whoamiServer(t *testing.T, ns netns.NsHandle, network, addr string) {
	t.Helper()
	var (
		ln net.Listener
		pc net.PacketConn
	)
	must(t, "listen "+addr, inNS(ns, func() (err error) {
		if network == "udp" {
			pc, err = net.ListenPacket("udp", addr)
		} else {
			ln, err = net.Listen("tcp", addr)
		}
		return err
	}))
	var wg sync.WaitGroup
	t.Cleanup(func() {
		if ln != nil {
			_ = ln.Close()
		}
		if pc != nil {
			_ = pc.Close()
		}
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		if pc != nil {
			buf := make([]byte, 64)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo([]byte(from.String()), from)
			}
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, c.RemoteAddr().String())
			_ = c.Close()
		}
	}()
}

// whoami connects from ns to addr and returns the client address the
// server saw (its IP only).
func whoami(ns netns.NsHandle, network, addr string) (string, error) {
	var got string
	err := inNS(ns, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(dialTimeout))
		if network == "udp" {
			if _, err := c.Write([]byte("?")); err != nil {
				return err
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil {
				return err
			}
			got = string(buf[:n])
			return nil
		}
		b, err := io.ReadAll(c)
		got = string(b)
		return err
	})
	if err != nil {
		return "", err
	}
	ap, err := netip.ParseAddrPort(got)
	if err != nil {
		return "", fmt.Errorf("server answered %q: %w", got, err)
	}
	return ap.Addr().String(), nil
}

var errReached = errors.New("connection succeeded; want it blocked")

// unreachable reports nil when addr cannot be reached from ns.
func unreachable(ns netns.NsHandle, network, addr string) error {
	if got, err := whoami(ns, network, addr); err == nil {
		return fmt.Errorf("%w (server saw %s)", errReached, got)
	}
	return nil
}

func requireNetns(t *testing.T) {
	t.Helper()
	testutil.Require(t, testutil.Root, testutil.Nft)
}
