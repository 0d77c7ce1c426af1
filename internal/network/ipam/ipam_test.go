package ipam_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"berth/internal/network/ipam"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

func TestParsePool(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    ipam.Pool
		wantErr string
	}{
		{in: "base=172.30.0.0/16,size=24", want: ipam.Pool{Base: pfx("172.30.0.0/16"), Size: 24}},
		{in: "BASE=10.0.0.0/8, Size=16", want: ipam.Pool{Base: pfx("10.0.0.0/8"), Size: 16}},
		{in: "size=64,base=fd00::/8", want: ipam.Pool{Base: pfx("fd00::/8"), Size: 64}},
		{in: "base=::ffff:10.0.0.0/104,size=16", want: ipam.Pool{Base: pfx("10.0.0.0/8"), Size: 16}},
		{in: "base=10.0.0.0/8", wantErr: "base and size are required"},
		{in: "base=10.0.0.1/8,size=16", wantErr: "base is not a network prefix"},
		{in: "base=10.0.0.0/16,size=8", wantErr: "size must be between 16 and 30"},
		{in: "base=10.0.0.0/16,size=31", wantErr: "size must be between 16 and 30"},
		{in: "base=10.0.0.0/16,size=x", wantErr: "invalid size"},
		{in: "base=nope,size=24", wantErr: "invalid base"},
		{in: "base=10.0.0.0/8,size=24,color=red", wantErr: "unknown field"},
		{in: "10.0.0.0/8", wantErr: "key=value"},
		{in: "", wantErr: "key=value"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ipam.ParsePool(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("ParsePool(%q) = %v, %v; want InvalidArgument containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParsePool(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     ipam.Config
		wantErr string
	}{
		{name: "default", cfg: ipam.DefaultConfig()},
		{name: "bip and fixed-cidr", cfg: ipam.Config{BIP: pfx("192.168.1.5/24"), FixedCIDR: pfx("192.168.1.128/25")}},
		{name: "bip is the network address", cfg: ipam.Config{BIP: pfx("192.168.1.0/24")}, wantErr: "network or broadcast"},
		{name: "bip v6", cfg: ipam.Config{BIP: pfx("fd00::1/64")}, wantErr: "must be an IPv4 address"},
		{name: "fixed-cidr outside bip", cfg: ipam.Config{BIP: pfx("192.168.1.5/24"), FixedCIDR: pfx("10.0.0.0/24")}, wantErr: "not within bip"},
		{name: "fixed-cidr bigger than bip", cfg: ipam.Config{BIP: pfx("192.168.1.5/24"), FixedCIDR: pfx("192.168.0.0/16")}, wantErr: "not within bip"},
		{name: "fixed-cidr not masked", cfg: ipam.Config{FixedCIDR: pfx("10.0.0.1/24")}, wantErr: "network prefix"},
		{name: "bad pool", cfg: ipam.Config{Pools: []ipam.Pool{{Base: pfx("10.0.0.0/8"), Size: 4}}}, wantErr: "size must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.cfg
			err := tc.cfg.Validate()
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v; want error containing %q", err, tc.wantErr)
			}
			if before.BIP != tc.cfg.BIP || before.FixedCIDR != tc.cfg.FixedCIDR {
				t.Fatal("Validate changed the config")
			}
		})
	}
}

// mustAdd adds networks in order and returns the state.
func mustAdd(t *testing.T, s ipam.State, pools []ipam.Pool, reqs ...ipam.NetworkRequest) ipam.State {
	t.Helper()
	for _, r := range reqs {
		var err error
		if s, _, err = s.AddNetwork(pools, r); err != nil {
			t.Fatalf("AddNetwork(%s): %v", r.ID, err)
		}
	}
	return s
}

func subnets(n ipam.Network) []string {
	var out []string
	for _, s := range n.Subnets {
		e := s.Subnet.String() + " gw " + s.Gateway.String()
		if s.IPRange.IsValid() {
			e += " range " + s.IPRange.String()
		}
		out = append(out, e)
	}
	return out
}

func TestState_AddNetwork(t *testing.T) {
	pools := ipam.DefaultPools()
	two := func(n string) ipam.NetworkRequest { return ipam.NetworkRequest{ID: n} }
	for _, tc := range []struct {
		name     string
		existing []ipam.NetworkRequest
		pools    []ipam.Pool
		req      ipam.NetworkRequest
		want     []string
		wantErr  error
		wantText string
	}{
		{name: "first gets 172.17", req: two("a"), want: []string{"172.17.0.0/16 gw 172.17.0.1"}},
		{name: "second gets 172.18", existing: []ipam.NetworkRequest{two("x")}, req: two("a"), want: []string{"172.18.0.0/16 gw 172.18.0.1"}},
		{
			name: "host docker0 is skipped",
			req:  ipam.NetworkRequest{ID: "a", Exclude: []netip.Prefix{pfx("0.0.0.0/0"), pfx("172.17.0.0/16"), pfx("10.0.2.15/24")}},
			want: []string{"172.18.0.0/16 gw 172.18.0.1"},
		},
		{
			name: "a host /24 blocks its /16",
			req:  ipam.NetworkRequest{ID: "a", Exclude: []netip.Prefix{pfx("172.17.5.0/24")}},
			want: []string{"172.18.0.0/16 gw 172.18.0.1"},
		},
		{
			name: "172.16/12 on the host leaves 192.168",
			req:  ipam.NetworkRequest{ID: "a", Exclude: []netip.Prefix{pfx("172.16.0.0/12"), pfx("192.168.0.7/32")}},
			want: []string{"192.168.16.0/20 gw 192.168.16.1"},
		},
		{
			name:    "pools exhausted",
			req:     ipam.NetworkRequest{ID: "a", Exclude: []netip.Prefix{pfx("172.16.0.0/12"), pfx("192.168.0.0/16")}},
			wantErr: ipam.ErrNoMoreSubnets, wantText: "all predefined address pools have been fully subnetted",
		},
		{
			name:  "small pool sizes skip blockers without enumerating",
			pools: []ipam.Pool{{Base: pfx("10.0.0.0/8"), Size: 30}},
			req:   ipam.NetworkRequest{ID: "a", Exclude: []netip.Prefix{pfx("10.0.0.0/9"), pfx("10.128.0.0/30")}},
			want:  []string{"10.128.0.4/30 gw 10.128.0.5"},
		},
		{
			name: "user subnet, range and gateway",
			req:  ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.5.0/24"), Gateway: addr("10.1.5.254")}}},
			want: []string{"10.1.0.0/16 gw 10.1.5.254 range 10.1.5.0/24"},
		},
		{
			name: "user subnet overlapping a host route is allowed",
			req:  ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("172.17.0.0/16")}}, Exclude: []netip.Prefix{pfx("172.17.0.0/16")}},
			want: []string{"172.17.0.0/16 gw 172.17.0.1"},
		},
		{
			name:     "user subnet overlapping another network",
			existing: []ipam.NetworkRequest{{ID: "x", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/16")}}}},
			req:      ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.2.0/24")}}},
			wantErr:  ipam.ErrPoolOverlap, wantText: "invalid pool request: Pool overlaps with other one on this address space",
		},
		{
			name:     "user subnet overlapping an automatic one",
			existing: []ipam.NetworkRequest{two("x")},
			req:      ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("172.16.0.0/12")}}},
			wantErr:  ipam.ErrPoolOverlap,
		},
		{
			name:    "two overlapping subnets in one request",
			req:     ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/16")}, {Subnet: pfx("10.1.0.0/24")}}},
			wantErr: ipam.ErrPoolOverlap,
		},
		{
			name: "ipv6 user subnet adds an automatic ipv4 one",
			req:  ipam.NetworkRequest{ID: "a", IPv6: true, Subnets: []ipam.SubnetRequest{{Subnet: pfx("fd00:1::/64")}}},
			want: []string{"fd00:1::/64 gw fd00:1::1", "172.17.0.0/16 gw 172.17.0.1"},
		},
		{
			name:     "ipv6 without subnet or pool",
			req:      ipam.NetworkRequest{ID: "a", IPv6: true},
			wantErr:  errdefs.ErrInvalidArgument,
			wantText: "IPv6 address pool",
		},
		{
			name:  "ipv6 from a configured pool",
			pools: append(ipam.DefaultPools(), ipam.Pool{Base: pfx("fd00::/8"), Size: 64}),
			req:   ipam.NetworkRequest{ID: "a", IPv6: true, Exclude: []netip.Prefix{pfx("fd00::/64"), pfx("::/0")}},
			want:  []string{"172.17.0.0/16 gw 172.17.0.1", "fd00:0:0:1::/64 gw fd00:0:0:1::1"},
		},
		{name: "duplicate id", existing: []ipam.NetworkRequest{two("a")}, req: two("a"), wantErr: errdefs.ErrAlreadyExists},
		{
			name:    "gateway is the network address",
			req:     ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/24"), Gateway: addr("10.1.0.0")}}},
			wantErr: ipam.ErrAddressInUse,
		},
		{
			name:    "gateway outside",
			req:     ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/24"), Gateway: addr("10.2.0.1")}}},
			wantErr: errdefs.ErrInvalidArgument,
		},
		{
			name:    "subnet with no room for a gateway",
			req:     ipam.NetworkRequest{ID: "a", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/31")}}},
			wantErr: ipam.ErrNoAvailableIPs,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pools
			if tc.pools != nil {
				p = tc.pools
			}
			s := mustAdd(t, ipam.State{}, p, tc.existing...)
			before, _ := json.Marshal(s)
			got, n, err := s.AddNetwork(p, tc.req)
			after, _ := json.Marshal(s)
			if string(before) != string(after) {
				t.Fatal("AddNetwork modified its receiver")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || (tc.wantText != "" && !strings.Contains(err.Error(), tc.wantText)) {
					t.Fatalf("err = %v; want %v containing %q", err, tc.wantErr, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := subnets(n); strings.Join(g, "; ") != strings.Join(tc.want, "; ") {
				t.Fatalf("subnets = %q; want %q", g, tc.want)
			}
			if stored, _ := got.Network(tc.req.ID); strings.Join(subnets(stored), ";") != strings.Join(subnets(n), ";") {
				t.Fatal("returned network differs from the stored one")
			}
		})
	}
}

func TestPoolOverlap_Is403(t *testing.T) {
	s := mustAdd(t, ipam.State{}, nil, ipam.NetworkRequest{ID: "x", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/16")}}})
	_, _, err := s.AddNetwork(nil, ipam.NetworkRequest{ID: "y", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.0.0.0/8")}}})
	if !errdefs.IsPermissionDenied(err) {
		t.Fatalf("err = %v; want PermissionDenied (dockerd's 403)", err)
	}
}

func TestConfig_DefaultBridge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     ipam.Config
		exclude []netip.Prefix
		want    []string
	}{
		{name: "defaults", cfg: ipam.DefaultConfig(), want: []string{"172.17.0.0/16 gw 172.17.0.1"}},
		{name: "docker0 on the host", cfg: ipam.DefaultConfig(), exclude: []netip.Prefix{pfx("172.17.0.0/16")}, want: []string{"172.18.0.0/16 gw 172.18.0.1"}},
		{name: "bip", cfg: ipam.Config{BIP: pfx("192.168.1.5/24")}, want: []string{"192.168.1.0/24 gw 192.168.1.5"}},
		{name: "bip and fixed-cidr", cfg: ipam.Config{BIP: pfx("192.168.1.5/24"), FixedCIDR: pfx("192.168.1.128/25")}, want: []string{"192.168.1.0/24 gw 192.168.1.5 range 192.168.1.128/25"}},
		{name: "fixed-cidr alone", cfg: ipam.Config{FixedCIDR: pfx("10.9.0.0/24")}, want: []string{"10.9.0.0/24 gw 10.9.0.1 range 10.9.0.0/24"}},
		{name: "own pools", cfg: ipam.Config{Pools: []ipam.Pool{{Base: pfx("10.10.0.0/16"), Size: 24}}}, want: []string{"10.10.0.0/24 gw 10.10.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := ipam.State{}.AddNetwork(tc.cfg.Pools, tc.cfg.DefaultBridge("bridge", tc.exclude))
			if tc.cfg.Pools == nil {
				_, n, err = ipam.State{}.AddNetwork(ipam.DefaultPools(), tc.cfg.DefaultBridge("bridge", tc.exclude))
			}
			if err != nil {
				t.Fatal(err)
			}
			if g := subnets(n); strings.Join(g, "; ") != strings.Join(tc.want, "; ") {
				t.Fatalf("subnets = %q; want %q", g, tc.want)
			}
		})
	}
}

func TestParseSubnets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []ipam.SubnetSpec
		want    []ipam.SubnetRequest
		wantErr string
	}{
		{name: "empty", in: nil, want: []ipam.SubnetRequest{}},
		{
			name: "full",
			in:   []ipam.SubnetSpec{{Subnet: "10.1.0.0/16", IPRange: "10.1.5.0/24", Gateway: "10.1.0.254"}, {Subnet: "fd00::/64"}},
			want: []ipam.SubnetRequest{{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.5.0/24"), Gateway: addr("10.1.0.254")}, {Subnet: pfx("fd00::/64")}},
		},
		{name: "bad subnet", in: []ipam.SubnetSpec{{Subnet: "10.1.0.0"}}, wantErr: "invalid network config:\ninvalid subnet 10.1.0.0: invalid CIDR block notation"},
		{name: "host bits", in: []ipam.SubnetSpec{{Subnet: "10.1.0.1/16"}}, wantErr: "invalid subnet 10.1.0.1/16: it should be 10.1.0.0/16"},
		{name: "range family", in: []ipam.SubnetSpec{{Subnet: "10.1.0.0/16", IPRange: "fd00::/64"}}, wantErr: "invalid ip-range fd00::/64: parent subnet is an IPv4 block"},
		{name: "range bigger", in: []ipam.SubnetSpec{{Subnet: "10.1.0.0/16", IPRange: "10.0.0.0/8"}}, wantErr: "invalid ip-range 10.0.0.0/8: CIDR block is bigger than its parent subnet 10.1.0.0/16"},
		{name: "range outside", in: []ipam.SubnetSpec{{Subnet: "10.1.0.0/16", IPRange: "10.2.0.0/24"}}, wantErr: "invalid ip-range 10.2.0.0/24: parent subnet 10.1.0.0/16 doesn't contain ip-range"},
		{name: "gateway outside", in: []ipam.SubnetSpec{{Subnet: "10.0.0.0/24", Gateway: "10.1.0.1"}}, wantErr: "invalid gateway 10.1.0.1: parent subnet 10.0.0.0/24 doesn't contain this address"},
		{name: "gateway garbage", in: []ipam.SubnetSpec{{Subnet: "10.0.0.0/24", Gateway: "x"}}, wantErr: "invalid gateway x: invalid address"},
		{
			name:    "several problems",
			in:      []ipam.SubnetSpec{{Subnet: "10.0.0.1/24", Gateway: "fd00::1"}},
			wantErr: "invalid network config:\n* invalid subnet 10.0.0.1/24: it should be 10.0.0.0/24\n* invalid gateway fd00::1: parent subnet is an IPv4 block",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ipam.ParseSubnets(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v; want InvalidArgument containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v; want %v", got, tc.want)
				}
			}
		})
	}
}

func TestState_AllocateEndpoint(t *testing.T) {
	user := ipam.NetworkRequest{ID: "user", IPv6: true, Subnets: []ipam.SubnetRequest{
		{Subnet: pfx("10.1.0.0/24"), IPRange: pfx("10.1.0.128/25")},
		{Subnet: pfx("fd00:1::/64")},
	}}
	auto := ipam.NetworkRequest{ID: "auto"}
	tiny := ipam.NetworkRequest{ID: "tiny", Subnets: []ipam.SubnetRequest{{Subnet: pfx("10.9.0.0/30")}}}
	base := mustAdd(t, ipam.State{}, ipam.DefaultPools(), user, auto, tiny)
	type step struct {
		req      ipam.EndpointRequest
		want4    string
		want6    string
		wantErr  error
		wantText string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{name: "lowest free on an automatic subnet", steps: []step{
			{req: ipam.EndpointRequest{Network: "auto", Owner: "a"}, want4: "172.17.0.2/16"},
			{req: ipam.EndpointRequest{Network: "auto", Owner: "b"}, want4: "172.17.0.3/16"},
		}},
		{name: "range and both families", steps: []step{
			{req: ipam.EndpointRequest{Network: "user", Owner: "a"}, want4: "10.1.0.128/24", want6: "fd00:1::2/64"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "b"}, want4: "10.1.0.129/24", want6: "fd00:1::3/64"},
		}},
		{name: "fixed inside the subnet but outside the range", steps: []step{
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.7"), IPv6: addr("fd00:1::99")}, want4: "10.1.0.7/24", want6: "fd00:1::99/64"},
		}},
		{name: "fixed outside", steps: []step{
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("192.168.250.9")}, wantErr: errdefs.ErrInvalidArgument, wantText: "no configured subnet or ip-range contain the IP address 192.168.250.9"},
		}},
		{name: "fixed on an automatic subnet", steps: []step{
			{req: ipam.EndpointRequest{Network: "auto", Owner: "a", IPv4: addr("172.17.0.9")}, wantErr: errdefs.ErrInvalidArgument, wantText: "user specified IP address is supported only when connecting to networks with user configured subnets"},
		}},
		{name: "fixed v6 on a v4-only network", steps: []step{
			{req: ipam.EndpointRequest{Network: "tiny", Owner: "a", IPv6: addr("fd00::5")}, wantErr: errdefs.ErrInvalidArgument, wantText: "no configured subnet or ip-range contain the IP address fd00::5"},
		}},
		{name: "fixed gateway, network and taken addresses", steps: []step{
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.1")}, wantErr: ipam.ErrAddressInUse, wantText: "Address already in use"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.0")}, wantErr: ipam.ErrAddressInUse},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.255")}, wantErr: ipam.ErrAddressInUse},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.50")}, want4: "10.1.0.50/24", want6: "fd00:1::2/64"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "b", IPv4: addr("10.1.0.50")}, wantErr: ipam.ErrAddressInUse},
		}},
		{name: "asking again returns the held addresses", steps: []step{
			{req: ipam.EndpointRequest{Network: "user", Owner: "a"}, want4: "10.1.0.128/24", want6: "fd00:1::2/64"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a"}, want4: "10.1.0.128/24", want6: "fd00:1::2/64"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.128")}, want4: "10.1.0.128/24", want6: "fd00:1::2/64"},
			{req: ipam.EndpointRequest{Network: "user", Owner: "a", IPv4: addr("10.1.0.9")}, wantErr: errdefs.ErrConflict},
		}},
		{name: "exhaustion", steps: []step{
			{req: ipam.EndpointRequest{Network: "tiny", Owner: "a"}, want4: "10.9.0.2/30"},
			{req: ipam.EndpointRequest{Network: "tiny", Owner: "b"}, wantErr: ipam.ErrNoAvailableIPs, wantText: "no available addresses on this pool"},
		}},
		{name: "unknown network", steps: []step{
			{req: ipam.EndpointRequest{Network: "nope", Owner: "a"}, wantErr: errdefs.ErrNotFound},
		}},
		{name: "empty owner", steps: []step{
			{req: ipam.EndpointRequest{Network: "auto"}, wantErr: errdefs.ErrInvalidArgument},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			for i, st := range tc.steps {
				next, ep, err := s.AllocateEndpoint(st.req)
				if st.wantErr != nil {
					if !errors.Is(err, st.wantErr) || !strings.Contains(err.Error(), st.wantText) {
						t.Fatalf("step %d: err = %v; want %v containing %q", i, err, st.wantErr, st.wantText)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				g4, g6 := "", ""
				if ep.IPv4.IsValid() {
					g4 = ep.IPv4.String()
				}
				if ep.IPv6.IsValid() {
					g6 = ep.IPv6.String()
				}
				if g4 != st.want4 || g6 != st.want6 {
					t.Fatalf("step %d: got %q %q; want %q %q", i, g4, g6, st.want4, st.want6)
				}
				s = next
			}
		})
	}
}

func TestState_ReleaseAndRemove(t *testing.T) {
	s := mustAdd(t, ipam.State{}, ipam.DefaultPools(), ipam.NetworkRequest{ID: "n"}, ipam.NetworkRequest{ID: "m"})
	s, a, _ := s.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "a"})
	s, _, _ = s.AllocateEndpoint(ipam.EndpointRequest{Network: "m", Owner: "a"})
	s, b, _ := s.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "b"})
	if _, err := s.RemoveNetwork("n"); !errdefs.IsConflict(err) {
		t.Fatalf("RemoveNetwork with endpoints: %v; want Conflict", err)
	}
	s2, err := s.Release("n", a.IPv4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, c, _ := s2.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "c"}); c.IPv4 != a.IPv4 {
		t.Fatalf("released %s was not reused: got %s", a.IPv4, c.IPv4)
	}
	if _, c, _ := s.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "c"}); c.IPv4 == a.IPv4 || c.IPv4 == b.IPv4 {
		t.Fatalf("Release modified its receiver: %s handed out again", c.IPv4)
	}
	s = s.ReleaseOwner("a")
	if s, err = s.ReleaseEndpoint("n", "b"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"n", "m"} {
		if s, err = s.RemoveNetwork(id); err != nil {
			t.Fatalf("RemoveNetwork(%s): %v", id, err)
		}
	}
	if len(s.Networks) != 0 {
		t.Fatalf("networks left: %v", s.Networks)
	}
	if _, err := s.RemoveNetwork("n"); !errdefs.IsNotFound(err) {
		t.Fatalf("RemoveNetwork twice: %v; want NotFound", err)
	}
	if _, err := s.Release("n", a.IPv4.Addr()); !errdefs.IsNotFound(err) {
		t.Fatalf("Release on a removed network: %v; want NotFound", err)
	}
}

func TestState_JSONRoundTrip(t *testing.T) {
	s := mustAdd(t, ipam.State{}, ipam.DefaultPools(), ipam.NetworkRequest{ID: "n", IPv6: true, Subnets: []ipam.SubnetRequest{{Subnet: pfx("fd00::/64")}, {Subnet: pfx("10.0.0.0/24"), IPRange: pfx("10.0.0.64/26")}}})
	s, _, _ = s.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "a"})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back ipam.State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the state:\n%s\n%s", b, b2)
	}
	if _, ep, _ := back.AllocateEndpoint(ipam.EndpointRequest{Network: "n", Owner: "b"}); ep.IPv4.Addr() != addr("10.0.0.65") || ep.IPv6.Addr() != addr("fd00::3") {
		t.Fatalf("after the round trip got %v; want 10.0.0.65 and fd00::3", ep)
	}
}

// memStore is a Store that keeps the JSON bytes, as a disk would.
type memStore struct {
	data    []byte
	failing bool
}

func (m *memStore) Load(context.Context) (ipam.State, error) {
	var s ipam.State
	if m.data == nil {
		return s, nil
	}
	err := json.Unmarshal(m.data, &s)
	return s, err
}

func (m *memStore) Save(_ context.Context, s ipam.State) error {
	if m.failing {
		return errors.New("disk full")
	}
	b, err := json.Marshal(s)
	m.data = b
	return err
}

func TestAllocator_SurvivesRestart(t *testing.T) {
	ctx := t.Context()
	store := &memStore{}
	a, err := ipam.New(ctx, ipam.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateNetwork(ctx, ipam.NetworkRequest{ID: "n"}); err != nil {
		t.Fatal(err)
	}
	ep1, err := a.AllocateEndpoint(ctx, ipam.EndpointRequest{Network: "n", Owner: "c1"})
	if err != nil {
		t.Fatal(err)
	}

	store.failing = true
	if _, err := a.AllocateEndpoint(ctx, ipam.EndpointRequest{Network: "n", Owner: "c2"}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("allocation with a failing store: %v", err)
	}
	if n, _ := a.State().Network("n"); len(n.Subnets[0].Addresses) != 1 {
		t.Fatal("a failed save changed the allocator's state")
	}
	store.failing = false

	// A restarted daemon loads what was saved and never hands c1's address out again.
	b, err := ipam.New(ctx, ipam.DefaultConfig(), store)
	if err != nil {
		t.Fatal(err)
	}
	ep2, err := b.AllocateEndpoint(ctx, ipam.EndpointRequest{Network: "n", Owner: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if ep2.IPv4 == ep1.IPv4 {
		t.Fatalf("address %s handed out twice across a restart", ep1.IPv4)
	}
	if _, err := b.CreateNetwork(ctx, ipam.NetworkRequest{ID: "m", Subnets: []ipam.SubnetRequest{{Subnet: pfx("172.17.1.0/24")}}}); !errors.Is(err, ipam.ErrPoolOverlap) {
		t.Fatalf("overlap after restart: %v", err)
	}
	if err := b.ReleaseOwner(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := b.ReleaseEndpoint(ctx, "n", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveNetwork(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if _, err := ipam.New(ctx, ipam.Config{BIP: pfx("10.0.0.0/24")}, store); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("New with an invalid config: %v", err)
	}
}

func ExampleState() {
	var s ipam.State
	s, n, _ := s.AddNetwork(ipam.DefaultPools(), ipam.NetworkRequest{
		ID:      "mynet",
		Exclude: []netip.Prefix{netip.MustParsePrefix("172.17.0.0/16")}, // docker0 on the host
	})
	s, ep, _ := s.AllocateEndpoint(ipam.EndpointRequest{Network: "mynet", Owner: "container-1"})
	_ = s // persist s before using ep
	fmt.Println(n.Subnets[0].Subnet, n.Subnets[0].Gateway, ep.IPv4)
	// Output: 172.18.0.0/16 172.18.0.1 172.18.0.2/16
}
