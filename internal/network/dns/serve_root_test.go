package dns_test

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"berth/internal/network/dns"
	"berth/internal/network/netns"
	"berth/internal/testutil"
)

type mapResolver map[string][]netip.Addr

func (m mapResolver) Lookup(_ context.Context, _, name string, qtype uint16) ([]netip.Addr, bool) {
	all, ok := m[name]
	if !ok {
		return nil, false
	}
	var out []netip.Addr
	for _, a := range all {
		if a.Is4() == (qtype == mdns.TypeA) {
			out = append(out, a)
		}
	}
	return out, true
}

func (m mapResolver) LookupPTR(_ context.Context, _ string, addr netip.Addr) (string, bool) {
	for name, as := range m {
		if slices.Contains(as, addr) {
			return name, true
		}
	}
	return "", false
}

// newNS makes a persistent namespace with its loopback up.
func newNS(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := netns.New(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(context.WithoutCancel(ctx), p) })
	inNS(t, ctx, p, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	})
	return p
}

func inNS(t *testing.T, ctx context.Context, path string, fn func() error) {
	t.Helper()
	if err := netns.Do(ctx, path, fn); err != nil {
		t.Fatalf("in %s: %v", path, err)
	}
}

// fakeUpstream serves a few names on 127.0.0.1:5353 (UDP and TCP) inside the
// namespace at ns and counts the queries it gets.
type fakeUpstream struct{ queries atomic.Int32 }

func startUpstream(t *testing.T, ctx context.Context, ns string, rcodeFor map[string]int) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	h := mdns.HandlerFunc(func(w mdns.ResponseWriter, q *mdns.Msg) {
		u.queries.Add(1)
		m := new(mdns.Msg).SetReply(q)
		name := q.Question[0].Name
		if rc, ok := rcodeFor[name]; ok {
			m.Rcode = rc
		} else if q.Question[0].Qtype == mdns.TypeA {
			m.Answer = append(m.Answer, &mdns.A{
				Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
				A:   net.IPv4(192, 0, 2, 1),
			})
		}
		_ = w.WriteMsg(m)
	})
	var pc net.PacketConn
	var ln net.Listener
	inNS(t, ctx, ns, func() (err error) {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:5353"); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", "127.0.0.1:5353")
		return err
	})
	for _, srv := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown(); <-done })
	}
	return u
}

// ask sends q to the embedded server from inside ns over proto.
func ask(t *testing.T, ctx context.Context, ns, proto string, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	var resp *mdns.Msg
	inNS(t, ctx, ns, func() (err error) {
		c := &mdns.Client{Net: proto, Timeout: 30 * time.Second}
		resp, _, err = c.Exchange(new(mdns.Msg).SetQuestion(name, qtype), dns.Address.String())
		return err
	})
	return resp
}

func firstA(m *mdns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*mdns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

func TestServe_InsideTheContainerNamespace(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	ctr := newNS(t, ctx, "ctr")
	host := newNS(t, ctx, "host")

	r := mapResolver{
		"web":    {netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("fd00::2")},
		"shared": {netip.MustParseAddr("172.18.0.4"), netip.MustParseAddr("172.18.0.5")},
	}
	// The --dns style upstream listens in the container's namespace; the
	// host's style upstream in a namespace that stands for the host.
	ctrUp := startUpstream(t, ctx, ctr, map[string]int{"nx.example.": mdns.RcodeNameError})
	hostUp := startUpstream(t, ctx, host, map[string]int{"fail.example.": mdns.RcodeServerFailure})
	up := netip.MustParseAddrPort("127.0.0.1:5353")
	stop, err := dns.Serve(ctx, ctr, "c1", r,
		[]dns.Upstream{{Addr: up}, {Addr: up, FromContainer: true}},
		dns.WithHostNamespace(host), dns.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(stop)

	for _, proto := range []string{"udp", "tcp"} {
		// Known names, answered locally.
		if got := firstA(ask(t, ctx, ctr, proto, "web.", mdns.TypeA)); got != "172.18.0.2" {
			t.Errorf("%s web A = %q", proto, got)
		}
		resp := ask(t, ctx, ctr, proto, "web.", mdns.TypeAAAA)
		if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.AAAA).AAAA.String() != "fd00::2" {
			t.Errorf("%s web AAAA = %v", proto, resp.Answer)
		}
		ptr := ask(t, ctx, ctr, proto, "2.0.18.172.in-addr.arpa.", mdns.TypePTR)
		if len(ptr.Answer) != 1 || ptr.Answer[0].(*mdns.PTR).Ptr != "web." {
			t.Errorf("%s PTR = %v", proto, ptr.Answer)
		}
		// Round-robin for a shared alias.
		a, b := firstA(ask(t, ctx, ctr, proto, "shared.", mdns.TypeA)), firstA(ask(t, ctx, ctr, proto, "shared.", mdns.TypeA))
		if a == b || a == "" || b == "" {
			t.Errorf("%s: shared alias led with %q then %q, want both addresses in turn", proto, a, b)
		}
	}
	if n := hostUp.queries.Load() + ctrUp.queries.Load(); n != 0 {
		t.Fatalf("local names reached the upstreams %d times", n)
	}

	for _, proto := range []string{"udp", "tcp"} {
		// Unknown: the first (host) upstream answers.
		h0 := hostUp.queries.Load()
		if got := firstA(ask(t, ctx, ctr, proto, "example.com.", mdns.TypeA)); got != "192.0.2.1" {
			t.Errorf("%s forwarded A = %q", proto, got)
		}
		if hostUp.queries.Load() != h0+1 {
			t.Errorf("%s: the host upstream was not asked", proto)
		}
		// SERVFAIL from the first moves on to the second, in the container.
		c0 := ctrUp.queries.Load()
		if got := firstA(ask(t, ctx, ctr, proto, "fail.example.", mdns.TypeA)); got != "192.0.2.1" {
			t.Errorf("%s: after SERVFAIL, A = %q", proto, got)
		}
		if ctrUp.queries.Load() != c0+1 {
			t.Errorf("%s: the container upstream was not asked after SERVFAIL", proto)
		}
	}
	// The host upstream is dialed from the host namespace, the other from the
	// container's: both listen on the same 127.0.0.1:5353, so the counts above
	// prove where each was dialed from.

	// NXDOMAIN from the container upstream passes through (host answers
	// A for everything, so ask the container-only name via a second server).
	stop2, err := dns.Serve(ctx, ctr, "c1", r, []dns.Upstream{{Addr: up, FromContainer: true}},
		dns.WithListen(netip.MustParseAddrPort("127.0.0.12:53")))
	if err != nil {
		t.Fatalf("second Serve: %v", err)
	}
	t.Cleanup(stop2)
	inNS(t, ctx, ctr, func() error {
		resp, _, err := (&mdns.Client{Timeout: 30 * time.Second}).Exchange(new(mdns.Msg).SetQuestion("nx.example.", mdns.TypeA), "127.0.0.12:53")
		if err != nil {
			return err
		}
		if resp.Rcode != mdns.RcodeNameError {
			t.Errorf("upstream NXDOMAIN came back as %s", mdns.RcodeToString[resp.Rcode])
		}
		return nil
	})

	// A second server on the same address conflicts.
	if _, err := dns.Serve(ctx, ctr, "c1", r, nil); !errdefs.IsConflict(err) {
		t.Errorf("second Serve on 127.0.0.11:53: %v, want Conflict", err)
	}
	stop()
	stop() // harmless
	// After stop, the address is free again.
	stop3, err := dns.Serve(ctx, ctr, "c1", r, nil)
	if err != nil {
		t.Fatalf("Serve after stop: %v", err)
	}
	stop3()
}

func TestServe_UpstreamFailureIsServfail(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	ctr := newNS(t, ctx, "ctr")
	r := mapResolver{"web": {netip.MustParseAddr("172.18.0.2")}}
	cases := map[string][]dns.Upstream{
		"no upstream": nil,
		// Nothing listens there: refused at once (ICMP port unreachable, RST).
		"unreachable": {{Addr: netip.MustParseAddrPort("127.0.0.1:5399"), FromContainer: true}},
	}
	for name, ups := range cases {
		stop, err := dns.Serve(ctx, ctr, "c1", r, ups)
		if err != nil {
			t.Fatalf("%s: Serve: %v", name, err)
		}
		for _, proto := range []string{"udp", "tcp"} {
			if resp := ask(t, ctx, ctr, proto, "example.com.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
				t.Errorf("%s over %s: %s, want SERVFAIL", name, proto, mdns.RcodeToString[resp.Rcode])
			}
			if got := firstA(ask(t, ctx, ctr, proto, "web.", mdns.TypeA)); got != "172.18.0.2" {
				t.Errorf("%s over %s: local name = %q", name, proto, got)
			}
		}
		stop()
	}
	// A namespace that does not exist.
	if _, err := dns.Serve(ctx, filepath.Join(t.TempDir(), "none"), "c1", r, nil); !errdefs.IsNotFound(err) {
		t.Errorf("Serve in a missing namespace: %v, want NotFound", err)
	}
}

func TestServe_BringsLoopbackUp(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	p := filepath.Join(t.TempDir(), "fresh")
	if err := netns.New(ctx, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(context.WithoutCancel(ctx), p) })
	stop, err := dns.Serve(ctx, p, "c1", mapResolver{"web": {netip.MustParseAddr("10.0.0.2")}}, nil)
	if err != nil {
		t.Fatalf("Serve in a namespace with lo down: %v", err)
	}
	defer stop()
	if got := firstA(ask(t, ctx, p, "udp", "web.", mdns.TypeA)); got != "10.0.0.2" {
		t.Fatalf("web A = %q", got)
	}
}

// BenchmarkServe measures starting and stopping a container's DNS server.
func BenchmarkServe(b *testing.B) {
	testutil.Require(b, testutil.Root)
	ctx := testutil.Context(b)
	p := filepath.Join(b.TempDir(), "ns")
	if err := netns.New(ctx, p); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = netns.Delete(context.WithoutCancel(ctx), p) })
	r := mapResolver{}
	for b.Loop() {
		stop, err := dns.Serve(ctx, p, "c1", r, nil)
		if err != nil {
			b.Fatal(err)
		}
		stop()
	}
}
