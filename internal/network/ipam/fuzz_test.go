package ipam_test

import (
	"net/netip"
	"strings"
	"testing"

	"berth/internal/network/ipam"
)

// FuzzParsePool feeds hostile --default-address-pool values to the parser
// and, for what it accepts, carves a subnet out of the pool: nothing may
// panic or loop, and a chosen subnet must lie inside the base.
func FuzzParsePool(f *testing.F) {
	for _, s := range []string{
		"base=172.30.0.0/16,size=24", "base=fd00::/8,size=64", "base=0.0.0.0/0,size=30",
		"base=::/0,size=126", "base=::ffff:0.0.0.0/96,size=30", "base=10.0.0.0/8,size=-1",
		"base=10.0.0.0/8,size=99999999999999999999", "base=fe80::%eth0/64,size=80", "base==,size==",
		",,,", "base=10.0.0.0/8,base=11.0.0.0/8,size=9", "size=24", strings.Repeat("base=", 1000),
		"base=1.2.3.4/32,size=32", "\x00=\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ipam.ParsePool(s)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParsePool(%q) accepted %v, which Validate rejects: %v", s, p, err)
		}
		// Block the pool's first and a middle subnet to exercise the skip.
		block := []netip.Prefix{netip.PrefixFrom(p.Base.Addr(), p.Size), netip.PrefixFrom(p.Base.Addr(), p.Base.Bits()+1)}
		_, n, err := ipam.State{}.AddNetwork([]ipam.Pool{p}, ipam.NetworkRequest{ID: "x", IPv6: p.Base.Addr().Is6(), Exclude: block})
		if err != nil {
			return
		}
		for _, sub := range n.Subnets {
			if sub.Subnet.Addr().Is4() == p.Base.Addr().Is4() && !p.Base.Contains(sub.Subnet.Addr()) {
				t.Fatalf("pool %v gave %v", p, sub.Subnet)
			}
		}
	})
}

// FuzzParseSubnets feeds hostile --subnet/--ip-range/--gateway triples to
// the parser; what it accepts must then be accepted or cleanly refused by
// AddNetwork, and the gateway must never be handed out.
func FuzzParseSubnets(f *testing.F) {
	for _, s := range [][3]string{
		{"10.1.0.0/16", "10.1.5.0/24", "10.1.0.254"}, {"fd00::/64", "", "fd00::1"}, {"10.1.0.1/16", "", ""},
		{"10.0.0.0/31", "", ""}, {"0.0.0.0/0", "0.0.0.0/0", "0.0.0.0"}, {"::/0", "", "::"},
		{"fe80::%lo/64", "", "fe80::1%lo"}, {"::ffff:10.0.0.0/120", "", ""}, {"10.0.0.0/24", "10.0.0.0/8", "x"},
		{"", "", ""}, {"1.2.3.4/33", "1.2.3.4/-1", "1.2.3.4.5"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, subnet, ipRange, gateway string) {
		reqs, err := ipam.ParseSubnets([]ipam.SubnetSpec{{Subnet: subnet, IPRange: ipRange, Gateway: gateway}})
		if err != nil {
			return
		}
		s, n, err := ipam.State{}.AddNetwork(nil, ipam.NetworkRequest{ID: "x", IPv6: true, Subnets: reqs})
		if err != nil {
			return
		}
		_, ep, err := s.AllocateEndpoint(ipam.EndpointRequest{Network: "x", Owner: "a"})
		if err != nil {
			return
		}
		for _, sub := range n.Subnets {
			if ep.IPv4.Addr() == sub.Gateway || ep.IPv6.Addr() == sub.Gateway {
				t.Fatalf("gateway %s handed out", sub.Gateway)
			}
		}
	})
}
