// Package dns is the embedded DNS server of user-defined networks, and the
// builders of a container's /etc/resolv.conf, /etc/hosts and /etc/hostname.
//
// # The server
//
// As in Docker, each container on a user-defined network gets its own server
// at 127.0.0.11:53 (UDP and TCP) inside its network namespace: Serve opens the
// sockets on a thread that has entered the namespace, and serves them from the
// daemon. Its resolv.conf names only that server. It answers, from a Resolver
// the caller implements over its own state:
//
//   - A and AAAA for names the container can see (container names, network
//     aliases, hostnames), TTL 600, the addresses rotated on each answer so
//     that a shared alias is served round-robin. A known name without an
//     address of the asked family gets an empty NOERROR answer, not a
//     forwarded query.
//   - PTR for the addresses of those containers; MX for a known name gets an
//     empty NOERROR answer (RFC 5321 implicit MX).
//
// Everything else is forwarded, over the protocol the query came in on, to at
// most three upstream servers in order: the host's resolv.conf nameservers,
// dialed from the daemon's namespace (so loopback resolvers such as
// systemd-resolved's 127.0.0.53 work, as they do with dockerd), and servers given
// with --dns, dialed from inside the container's namespace. An upstream that
// fails, times out or answers SERVFAIL or REFUSED is skipped; any other answer,
// NXDOMAIN included, is returned as is. When none answers, or there is no
// upstream (an --internal network), the client gets SERVFAIL. When the user set
// ndots, a single-label A/AAAA name that is not known gets an empty NOERROR
// answer instead of being forwarded, so the client goes on with its search
// list. These are dockerd's rules (libnetwork/resolver.go).
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"berth/internal/log"
	"berth/internal/network/netns"
)

// Address is where the embedded server listens inside each namespace.
var Address = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 11}), 53)

const (
	// TTL of the answers the server makes itself, as dockerd's.
	TTL = 600
	// maxUpstreams is how many upstream servers a query tries, as dockerd.
	maxUpstreams = 3
	// defaultTimeout bounds each upstream exchange, as dockerd's.
	defaultTimeout = 4 * time.Second
	// maxInFlight bounds concurrent forwarded queries per server; more are
	// REFUSED.
	maxInFlight = 1024
)

// Resolver answers for the names a container can see. The server calls it
// from many goroutines at once.
type Resolver interface {
	// Lookup returns the addresses name has for the container containerID:
	// IPv4 ones for qtype dns.TypeA, IPv6 ones for dns.TypeAAAA. name is lower
	// case without the trailing dot ("web" or "web.mynet"). ok reports whether
	// the name is known at all; a known name with no address of that family
	// returns ok and no addresses. The server owns the returned slice.
	Lookup(ctx context.Context, containerID, name string, qtype uint16) (addrs []netip.Addr, ok bool)
	// LookupPTR returns the name of the container that has addr on a network
	// containerID shares with it.
	LookupPTR(ctx context.Context, containerID string, addr netip.Addr) (name string, ok bool)
}

// Upstream is a server that unknown names are forwarded to.
type Upstream struct {
	Addr netip.AddrPort
	// FromContainer dials it from the container's namespace (servers given with
	// --dns) rather than from the daemon's (the host's nameservers).
	FromContainer bool
}

// String is the address, with "host(…)" around one dialed from the daemon's
// namespace, as dockerd writes it in resolv.conf's ExtServers comment.
func (u Upstream) String() string {
	s := u.Addr.Addr().String()
	if u.Addr.Port() != 53 {
		s = u.Addr.String()
	}
	if !u.FromContainer {
		return "host(" + s + ")"
	}
	return s
}

// Option adjusts Serve.
type Option func(*options)

type options struct {
	listen   netip.AddrPort
	timeout  time.Duration
	ndotsSet bool
	hostNS   string
}

// WithListen makes the server listen at ap instead of Address.
func WithListen(ap netip.AddrPort) Option { return func(o *options) { o.listen = ap } }

// WithTimeout bounds each upstream exchange (default 4 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithNdotsSet tells the server the user set ndots (ResolvFile.NdotsSet), so
// unknown single-label names are not forwarded.
func WithNdotsSet(set bool) Option { return func(o *options) { o.ndotsSet = set } }

// WithHostNamespace dials the upstreams that are not FromContainer from the
// namespace at path instead of the daemon's own.
func WithHostNamespace(path string) Option { return func(o *options) { o.hostNS = path } }

// Serve starts the embedded DNS server of the container containerID inside the
// network namespace at nsPath, answering from r and forwarding to upstream.
// ctx bounds the set-up and supplies the logger; the server runs until stop is
// called. stop closes the sockets, cancels forwarded queries and waits for the
// server's goroutines; it may be called more than once. An address already in
// use in the namespace is errdefs.ErrConflict; a missing namespace is
// errdefs.ErrNotFound.
func Serve(ctx context.Context, nsPath, containerID string, r Resolver, upstream []Upstream, opts ...Option) (stop func(), err error) {
	o := options{listen: Address, timeout: defaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if r == nil || !o.listen.IsValid() || o.timeout <= 0 {
		return nil, fmt.Errorf("dns server: %w", errdefs.ErrInvalidArgument)
	}
	var pc net.PacketConn
	var ln net.Listener
	err = netns.Do(ctx, nsPath, func() error {
		if o.listen.Addr().IsLoopback() {
			// A namespace nobody attached yet has its loopback down, and then
			// the sockets bind but nothing reaches them.
			if err := loUp(); err != nil {
				return fmt.Errorf("loopback up: %w", err)
			}
		}
		var err error
		pc, ln, err = listen(o.listen)
		return err
	})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			err = fmt.Errorf("%w: %w", err, errdefs.ErrConflict)
		}
		return nil, fmt.Errorf("dns server for %s: %w", containerID, err)
	}

	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &server{
		ctx:         sctx,
		log:         log.From(ctx).With("container", containerID),
		nsPath:      nsPath,
		containerID: containerID,
		r:           r,
		upstream:    upstream,
		opts:        o,
		inFlight:    make(chan struct{}, maxInFlight),
	}
	if len(s.upstream) > maxUpstreams {
		s.upstream = s.upstream[:maxUpstreams]
	}
	servers := []*mdns.Server{
		{PacketConn: pc, Handler: s},
		{Listener: ln, Handler: s},
	}
	var wg sync.WaitGroup
	started := make(chan error, len(servers))
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- nil }
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				// Before start this reaches Serve; after, it is logged.
				select {
				case started <- err:
				default:
				}
				if sctx.Err() == nil {
					s.log.Warn("dns server stopped", "err", err)
				}
			}
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			for _, srv := range servers {
				_ = srv.Shutdown() // fails only for a server that never started
			}
			_ = pc.Close()
			_ = ln.Close()
			wg.Wait()
		})
	}
	for range servers {
		if err := <-started; err != nil {
			stop()
			return nil, fmt.Errorf("dns server for %s: %w", containerID, err)
		}
	}
	return stop, nil
}

func listen(ap netip.AddrPort) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	if err != nil {
		_ = pc.Close()
		return nil, nil, err
	}
	return pc, ln, nil
}

func loUp() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	if lo.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	return h.LinkSetUp(lo)
}

// server answers one container's queries.
type server struct {
	ctx         context.Context // cancelled by stop
	log         *slog.Logger
	nsPath      string
	containerID string
	r           Resolver
	upstream    []Upstream
	opts        options
	rotation    atomic.Uint32
	inFlight    chan struct{}
}

// ServeDNS implements mdns.Handler.
func (s *server) ServeDNS(w mdns.ResponseWriter, q *mdns.Msg) {
	resp := s.answer(s.ctx, q, w.LocalAddr().Network())
	if resp == nil {
		return
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("dns: write response", "err", err)
		if resp.Rcode != mdns.RcodeServerFailure {
			_ = w.WriteMsg(new(mdns.Msg).SetRcode(q, mdns.RcodeServerFailure))
		}
	}
}

// answer builds the response to q, which arrived over proto ("udp" or "tcp").
func (s *server) answer(ctx context.Context, q *mdns.Msg, proto string) *mdns.Msg {
	if len(q.Question) != 1 {
		return new(mdns.Msg).SetRcode(q, mdns.RcodeFormatError)
	}
	question := q.Question[0]
	name := strings.ToLower(strings.TrimSuffix(question.Name, "."))
	var resp *mdns.Msg
	if question.Qclass == mdns.ClassINET || question.Qclass == mdns.ClassANY {
		switch question.Qtype {
		case mdns.TypeA, mdns.TypeAAAA:
			resp = s.addrAnswer(ctx, q, name, question.Qtype)
		case mdns.TypeMX:
			_, ok4 := s.r.Lookup(ctx, s.containerID, name, mdns.TypeA)
			_, ok6 := s.r.Lookup(ctx, s.containerID, name, mdns.TypeAAAA)
			if ok4 || ok6 {
				resp = reply(q)
			}
		case mdns.TypePTR:
			if addr, ok := parseReverse(name); ok {
				if host, ok := s.r.LookupPTR(ctx, s.containerID, addr); ok && host != "" {
					resp = reply(q)
					resp.Answer = append(resp.Answer, &mdns.PTR{
						Hdr: mdns.RR_Header{Name: question.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: TTL},
						Ptr: mdns.Fqdn(host),
					})
				}
			}
		}
	}
	if resp != nil {
		resp.Truncate(maxSize(q, proto))
		return resp
	}
	if s.opts.ndotsSet && (question.Qtype == mdns.TypeA || question.Qtype == mdns.TypeAAAA) && !strings.Contains(name, ".") {
		return reply(q)
	}
	if resp = s.forward(ctx, q, proto); resp != nil {
		return resp
	}
	return new(mdns.Msg).SetRcode(q, mdns.RcodeServerFailure)
}

func (s *server) addrAnswer(ctx context.Context, q *mdns.Msg, name string, qtype uint16) *mdns.Msg {
	addrs, ok := s.r.Lookup(ctx, s.containerID, name, qtype)
	if !ok {
		return nil
	}
	var fam []netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() == (qtype == mdns.TypeA) && a.IsValid() {
			fam = append(fam, a)
		}
	}
	resp := reply(q)
	if n := len(fam); n > 1 {
		k := int(s.rotation.Add(1) % uint32(n))
		fam = slices.Concat(fam[k:], fam[:k])
	}
	qname := q.Question[0].Name
	for _, a := range fam {
		hdr := mdns.RR_Header{Name: qname, Rrtype: qtype, Class: mdns.ClassINET, Ttl: TTL}
		if qtype == mdns.TypeA {
			resp.Answer = append(resp.Answer, &mdns.A{Hdr: hdr, A: net.IP(a.AsSlice())})
		} else {
			resp.Answer = append(resp.Answer, &mdns.AAAA{Hdr: hdr, AAAA: net.IP(a.AsSlice())})
		}
	}
	return resp
}

// forward asks the upstream servers in turn; nil means none answered.
func (s *server) forward(ctx context.Context, q *mdns.Msg, proto string) *mdns.Msg {
	for _, u := range s.upstream {
		select {
		case s.inFlight <- struct{}{}:
		default:
			return new(mdns.Msg).SetRcode(q, mdns.RcodeRefused)
		}
		resp, err := s.exchange(ctx, q, proto, u)
		<-s.inFlight
		if err != nil {
			s.log.Debug("dns: upstream failed", "upstream", u.String(), "err", err)
			continue
		}
		if resp.Rcode == mdns.RcodeServerFailure || resp.Rcode == mdns.RcodeRefused {
			continue
		}
		resp.Compress = true
		return resp
	}
	return nil
}

func (s *server) exchange(ctx context.Context, q *mdns.Msg, proto string, u Upstream) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.timeout)
	defer cancel()
	d := net.Dialer{}
	var conn net.Conn
	dial := func() (err error) {
		conn, err = d.DialContext(ctx, proto, u.Addr.String())
		return err
	}
	var err error
	ns := s.opts.hostNS
	if u.FromContainer {
		ns = s.nsPath
	}
	if ns == "" {
		err = dial()
	} else {
		err = netns.Do(ctx, ns, dial)
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	// Read whatever size the upstream sends (some ignore EDNS0 sizes); the
	// client's own EDNS0 size, if any, still goes upstream with the query.
	c := &mdns.Client{Net: proto, UDPSize: mdns.MaxMsgSize}
	resp, _, err := c.ExchangeWithConnContext(ctx, q, &mdns.Conn{Conn: conn, UDPSize: mdns.MaxMsgSize})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func reply(q *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg).SetReply(q)
	m.RecursionAvailable = true
	return m
}

// maxSize is the largest response the client takes over proto.
func maxSize(q *mdns.Msg, proto string) int {
	if proto == "tcp" {
		return mdns.MaxMsgSize
	}
	size := mdns.MinMsgSize
	if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = int(opt.UDPSize())
	}
	return size
}

// parseReverse turns a full reverse name ("4.3.2.1.in-addr.arpa", 32 nibbles
// ".ip6.arpa", lower case, no trailing dot) into an address.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			if l == "" || len(l) > 3 || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			v := 0
			for _, c := range l {
				if c < '0' || c > '9' {
					return netip.Addr{}, false
				}
				v = v*10 + int(c-'0')
			}
			if v > 255 {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			var v byte
			switch c := l[0]; {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			default:
				return netip.Addr{}, false
			}
			pos := 31 - i // nibble index from the most significant
			if pos%2 == 0 {
				b[pos/2] |= v << 4
			} else {
				b[pos/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
