package nft

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Network is one berth bridge network as the firewall sees it.
type Network struct {
	// Name identifies the network's rules (their tag); Docker's network
	// names are short and have no spaces.
	Name string
	// Bridge is the bridge interface name.
	Bridge string
	// Subnets are the network's IPv4 and IPv6 subnets.
	Subnets []netip.Prefix
	// Internal networks get no NAT, and no traffic may leave or enter the
	// bridge through the host's forwarding path.
	Internal bool
}

// Container is one container endpoint's published ports.
type Container struct {
	// ID identifies the container's rules.
	ID string
	// Network is the network the ports point into; RemoveNetwork removes
	// these rules too.
	Network string
	// Ports are the published ports.
	Ports []PortMapping
}

// PortMapping publishes HostPort..HostPortEnd on the host to
// ContainerPort.. on ContainerIP, one to one.
type PortMapping struct {
	// Proto is "tcp", "udp" or "sctp".
	Proto string
	// HostIP restricts the mapping to one local address; the zero value
	// or an unspecified address (0.0.0.0, ::) means every local address,
	// 127.0.0.1 included.
	HostIP netip.Addr
	// HostPort is the first host port; HostPortEnd the last of a range
	// (zero for a single port).
	HostPort, HostPortEnd uint16
	// ContainerIP and ContainerPort are where the traffic goes.
	ContainerIP   netip.Addr
	ContainerPort uint16
}

// Ruleset is the whole desired state of the berth table.
type Ruleset struct {
	Networks   []Network
	Containers []Container
}

// Chain names in the berth table.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	chainPorts       = "ports"
	chainIsolation   = "isolation"
)

// chainNames lists every chain of the table; rules are looked up in them.
var chainNames = [...]string{chainPrerouting, chainOutput, chainPostrouting, chainForward, chainPorts, chainIsolation}

// Tag says which object a rule belongs to. It is stored as the rule's
// comment (nft's userdata), so `nft list table inet berth` shows it.
type Tag struct {
	// Static marks the table's own rules (the jumps into "ports").
	Static bool
	// Network and Container name the owner; container rules carry both.
	Network, Container string
}

func (t Tag) String() string {
	switch {
	case t.Static:
		return "berth static"
	case t.Container != "":
		return "berth ctr=" + t.Container + " net=" + t.Network
	default:
		return "berth net=" + t.Network
	}
}

// userData encodes t as an nft comment: TLV type 0, NUL-terminated.
func (t Tag) userData() []byte {
	s := t.String()
	return append([]byte{0, byte(len(s) + 1)}, append([]byte(s), 0)...)
}

// parseTag reads a rule comment written by userData. Rules without one,
// or with someone else's, report false.
func parseTag(ud []byte) (Tag, bool) {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return Tag{}, false
		}
		if typ == 0 {
			return parseComment(strings.TrimRight(string(ud[2:2+n]), "\x00"))
		}
		ud = ud[2+n:]
	}
	return Tag{}, false
}

func parseComment(s string) (Tag, bool) {
	f := strings.Fields(s)
	if len(f) < 2 || f[0] != "berth" {
		return Tag{}, false
	}
	if len(f) == 2 && f[1] == "static" {
		return Tag{Static: true}, true
	}
	var t Tag
	for _, kv := range f[1:] {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "net":
			t.Network = v
		case "ctr":
			t.Container = v
		default:
			return Tag{}, false
		}
	}
	return t, t.Network != ""
}

// rule is one planned rule.
type rule struct {
	chain string
	exprs []expr.Any
	tag   Tag
}

// maxTagPart keeps a comment under nft's 255-byte userdata element.
const maxTagPart = 100

func validName(kind, s string) error {
	if s == "" || len(s) > maxTagPart || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '=' || r > '~' }) {
		return fmt.Errorf("nft: invalid %s %q: %w", kind, s, errdefs.ErrInvalidArgument)
	}
	return nil
}

// validIfname checks a Linux interface name (IFNAMSIZ-1 bytes, no '/' or
// white space, not "." or "..").
func validIfname(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '/' || r == ':' || r > '~' }) {
		return fmt.Errorf("nft: invalid interface name %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Validate checks n without changing it.
func (n Network) Validate() error {
	if err := validName("network name", n.Name); err != nil {
		return err
	}
	if err := validIfname(n.Bridge); err != nil {
		return err
	}
	for _, s := range n.Subnets {
		if !s.IsValid() || s.Addr().Zone() != "" || s.Addr().Is4In6() {
			return fmt.Errorf("nft: network %s: invalid subnet %s: %w", n.Name, s, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// Validate checks c without changing it.
func (c Container) Validate() error {
	if err := validName("container ID", c.ID); err != nil {
		return err
	}
	if err := validName("network name", c.Network); err != nil {
		return err
	}
	for _, p := range c.Ports {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("nft: container %s: %w", c.ID, err)
		}
	}
	return nil
}

// Validate checks p without changing it.
func (p PortMapping) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid port mapping %s: %s: %w", p, fmt.Sprintf(format, args...), errdefs.ErrInvalidArgument)
	}
	if _, ok := protoNum(p.Proto); !ok {
		return bad("unknown protocol %q", p.Proto)
	}
	if p.HostPort == 0 || p.ContainerPort == 0 {
		return bad("ports must be set")
	}
	if p.HostPortEnd != 0 && p.HostPortEnd < p.HostPort {
		return bad("range end below its start")
	}
	if int(p.ContainerPort)+int(p.span()) > 65535 {
		return bad("container port range past 65535")
	}
	if !p.ContainerIP.IsValid() || p.ContainerIP.Zone() != "" || p.ContainerIP.Is4In6() || p.ContainerIP.IsUnspecified() {
		return bad("invalid container address")
	}
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() && (p.HostIP.Is4() != p.ContainerIP.Is4() || p.HostIP.Zone() != "" || p.HostIP.Is4In6()) {
		return bad("host address %s and container address %s are of different families", p.HostIP, p.ContainerIP)
	}
	return nil
}

// String formats p as `docker port` would: "0.0.0.0:8080->80/tcp".
func (p PortMapping) String() string {
	host := "*"
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	hp := fmt.Sprint(p.HostPort)
	if p.HostPortEnd > p.HostPort {
		hp += fmt.Sprintf("-%d", p.HostPortEnd)
	}
	return fmt.Sprintf("%s:%s->%s:%d/%s", host, hp, p.ContainerIP, p.ContainerPort, p.Proto)
}

func (p PortMapping) span() uint16 {
	if p.HostPortEnd <= p.HostPort {
		return 0
	}
	return p.HostPortEnd - p.HostPort
}

func protoNum(p string) (byte, bool) {
	switch p {
	case "tcp":
		return unix.IPPROTO_TCP, true
	case "udp":
		return unix.IPPROTO_UDP, true
	case "sctp":
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

// Validate checks every network and container of r.
func (r Ruleset) Validate() error {
	seenN := map[string]bool{}
	for _, n := range r.Networks {
		if err := n.Validate(); err != nil {
			return err
		}
		if seenN[n.Name] {
			return fmt.Errorf("nft: network %s listed twice: %w", n.Name, errdefs.ErrInvalidArgument)
		}
		seenN[n.Name] = true
	}
	seenC := map[string]bool{}
	for _, c := range r.Containers {
		if err := c.Validate(); err != nil {
			return err
		}
		if seenC[c.ID] {
			return fmt.Errorf("nft: container %s listed twice: %w", c.ID, errdefs.ErrInvalidArgument)
		}
		seenC[c.ID] = true
	}
	return nil
}

// --- expression builders ---------------------------------------------------

func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func metaCmp(key expr.MetaKey, op expr.CmpOp, data []byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: data},
	}
}

func iif(op expr.CmpOp, name string) []expr.Any {
	return metaCmp(expr.MetaKeyIIFNAME, op, ifname(name))
}
func oif(op expr.CmpOp, name string) []expr.Any {
	return metaCmp(expr.MetaKeyOIFNAME, op, ifname(name))
}

func nfproto(a netip.Addr) []expr.Any {
	p := byte(unix.NFPROTO_IPV6)
	if a.Is4() {
		p = unix.NFPROTO_IPV4
	}
	return metaCmp(expr.MetaKeyNFPROTO, expr.CmpOpEq, []byte{p})
}

// addrField loads the source or destination address of the packet's family.
func addrField(is4, src bool) *expr.Payload {
	p := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader}
	switch {
	case is4 && src:
		p.Offset, p.Len = 12, 4
	case is4:
		p.Offset, p.Len = 16, 4
	case src:
		p.Offset, p.Len = 8, 16
	default:
		p.Offset, p.Len = 24, 16
	}
	return p
}

// inPrefix matches the source (or destination) address against p. The
// caller has matched the family first (nfproto).
func inPrefix(p netip.Prefix, src bool) []expr.Any {
	p = p.Masked()
	is4 := p.Addr().Is4()
	out := []expr.Any{addrField(is4, src)}
	n := p.Addr().AsSlice()
	if p.Bits() == len(n)*8 {
		return append(out, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: n})
	}
	mask := make([]byte, len(n))
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return append(out,
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(n)), Mask: mask, Xor: make([]byte, len(n))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: n},
	)
}

// ctDNAT matches connections whose destination was translated (nft's
// "ct status dnat"), or the opposite when dnat is false.
func ctDNAT(dnat bool) []expr.Any {
	op := expr.CmpOpNeq
	if !dnat {
		op = expr.CmpOpEq
	}
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATUS, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

// ipsDstNAT is IPS_DST_NAT from linux/netfilter/nf_conntrack_common.h.
const ipsDstNAT = 1 << 5

// fibLocal matches packets addressed to one of the host's own addresses
// (nft's "fib daddr type local").
func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, ResultADDRTYPE: true, FlagDADDR: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func verdict(k expr.VerdictKind, chain string) expr.Any { return &expr.Verdict{Kind: k, Chain: chain} }

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// --- rule plans -------------------------------------------------------------

// staticRules send traffic addressed to the host, from outside (prerouting)
// and from the host itself (output), into the "ports" chain.
func staticRules() []rule {
	t := Tag{Static: true}
	jump := join(fibLocal(), []expr.Any{verdict(expr.VerdictJump, chainPorts)})
	return []rule{
		{chain: chainPrerouting, exprs: jump, tag: t},
		{chain: chainOutput, exprs: jump, tag: t},
	}
}

// networkRules are a network's NAT and isolation rules.
func networkRules(n Network) []rule {
	t := Tag{Network: n.Name}
	br := n.Bridge
	var rs []rule
	add := func(chain string, parts ...[]expr.Any) {
		rs = append(rs, rule{chain: chain, exprs: join(parts...), tag: t})
	}
	// Isolation: traffic entering this bridge from another berth bridge is
	// dropped, unless it is a published port (DNAT), which anyone who
	// reaches the host may use.
	add(chainForward, oif(expr.CmpOpEq, br), iif(expr.CmpOpNeq, br), ctDNAT(false), []expr.Any{verdict(expr.VerdictJump, chainIsolation)})
	add(chainIsolation, iif(expr.CmpOpEq, br), []expr.Any{verdict(expr.VerdictDrop, "")})
	if n.Internal {
		// No way out of the bridge and no way in through the host's
		// forwarding path; the host itself still reaches it (output).
		add(chainForward, iif(expr.CmpOpEq, br), oif(expr.CmpOpNeq, br), []expr.Any{verdict(expr.VerdictDrop, "")})
		add(chainForward, oif(expr.CmpOpEq, br), iif(expr.CmpOpNeq, br), []expr.Any{verdict(expr.VerdictDrop, "")})
		return rs
	}
	masq := []expr.Any{&expr.Masq{}}
	for _, s := range n.Subnets {
		// Outbound NAT: the subnet leaving through any other interface.
		add(chainPostrouting, nfproto(s.Addr()), inPrefix(s, true), oif(expr.CmpOpNeq, br), masq)
		// Hairpin: a container reaching a published port of its own
		// network through a host address. Without the masquerade the
		// answer would go straight back over the bridge from an address
		// the client never talked to.
		add(chainPostrouting, nfproto(s.Addr()), inPrefix(s, true), inPrefix(s, false), ctDNAT(true), masq)
	}
	// Localhost: the host connecting to 127.0.0.1:port, DNATed into the
	// bridge. The container cannot answer 127.0.0.1, so the source becomes
	// the bridge's address (also needs route_localnet, see RouteLocalnet).
	add(chainPostrouting, oif(expr.CmpOpEq, br), nfproto(netip.IPv4Unspecified()), inPrefix(netip.MustParsePrefix("127.0.0.0/8"), true), masq)
	return rs
}

// containerRules are a container's DNAT rules, one per host port.
func containerRules(c Container) []rule {
	t := Tag{Network: c.Network, Container: c.ID}
	var rs []rule
	for _, p := range c.Ports {
		proto, _ := protoNum(p.Proto)
		family := uint32(unix.NFPROTO_IPV6)
		if p.ContainerIP.Is4() {
			family = unix.NFPROTO_IPV4
		}
		for i := uint16(0); i <= p.span(); i++ {
			ex := nfproto(p.ContainerIP)
			if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
				ex = join(ex, []expr.Any{addrField(p.HostIP.Is4(), false), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.HostIP.AsSlice()}})
			}
			ex = join(ex,
				metaCmp(expr.MetaKeyL4PROTO, expr.CmpOpEq, []byte{proto}),
				[]expr.Any{
					&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort + i)},
					&expr.Immediate{Register: 1, Data: p.ContainerIP.AsSlice()},
					&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort + i)},
					&expr.NAT{Type: expr.NATTypeDestNAT, Family: family, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
				})
			rs = append(rs, rule{chain: chainPorts, exprs: ex, tag: t})
		}
	}
	return rs
}

// plan returns every rule of r, static ones first.
func plan(r Ruleset) []rule {
	rs := staticRules()
	for _, n := range r.Networks {
		rs = append(rs, networkRules(n)...)
	}
	for _, c := range r.Containers {
		rs = append(rs, containerRules(c)...)
	}
	return rs
}
