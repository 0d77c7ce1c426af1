package nft

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"suffixed", Config{Table: "berth-a1b2c3"}, true},
		{"empty", Config{}, false},
		{"space", Config{Table: "ber th"}, false},
		{"too long", Config{Table: strings.Repeat("b", 32)}, false},
		{"negative fd", Config{Table: "berth", NetNSFd: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errdefs.IsInvalidArgument(err)) {
				t.Fatalf("Validate() = %v; want ok=%v or InvalidArgument", err, tc.ok)
			}
		})
	}
}

func TestPortMapping_Validate(t *testing.T) {
	c4, c6 := netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fd00::2")
	for _, tc := range []struct {
		name string
		p    PortMapping
		ok   bool
	}{
		{"tcp any", PortMapping{Proto: "tcp", HostPort: 8080, ContainerIP: c4, ContainerPort: 80}, true},
		{"udp localhost", PortMapping{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: c4, ContainerPort: 53}, true},
		{"range", PortMapping{Proto: "tcp", HostPort: 8000, HostPortEnd: 8010, ContainerIP: c4, ContainerPort: 8000}, true},
		{"v6", PortMapping{Proto: "sctp", HostIP: netip.MustParseAddr("::"), HostPort: 1, ContainerIP: c6, ContainerPort: 1}, true},
		{"unspecified v4 host to v6 container", PortMapping{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 1, ContainerIP: c6, ContainerPort: 1}, true},
		{"family mismatch", PortMapping{Proto: "tcp", HostIP: netip.MustParseAddr("::1"), HostPort: 1, ContainerIP: c4, ContainerPort: 1}, false},
		{"bad proto", PortMapping{Proto: "icmp", HostPort: 1, ContainerIP: c4, ContainerPort: 1}, false},
		{"zero host port", PortMapping{Proto: "tcp", ContainerIP: c4, ContainerPort: 1}, false},
		{"reversed range", PortMapping{Proto: "tcp", HostPort: 9, HostPortEnd: 8, ContainerIP: c4, ContainerPort: 1}, false},
		{"container range past 65535", PortMapping{Proto: "tcp", HostPort: 100, HostPortEnd: 200, ContainerIP: c4, ContainerPort: 65500}, false},
		{"no container ip", PortMapping{Proto: "tcp", HostPort: 1, ContainerPort: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if (err == nil) != tc.ok || (err != nil && !errdefs.IsInvalidArgument(err)) {
				t.Fatalf("Validate(%s) = %v; want ok=%v", tc.p, err, tc.ok)
			}
		})
	}
}

func TestRuleset_Validate(t *testing.T) {
	n := Network{Name: "a", Bridge: "br-a", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}
	for _, tc := range []struct {
		name string
		r    Ruleset
		ok   bool
	}{
		{"ok", Ruleset{Networks: []Network{n}, Containers: []Container{{ID: "c", Network: "a"}}}, true},
		{"duplicate network", Ruleset{Networks: []Network{n, n}}, false},
		{"duplicate container", Ruleset{Containers: []Container{{ID: "c", Network: "a"}, {ID: "c", Network: "a"}}}, false},
		{"bridge name too long", Ruleset{Networks: []Network{{Name: "a", Bridge: "br-0123456789abc"}}}, false},
		{"bridge with slash", Ruleset{Networks: []Network{{Name: "a", Bridge: "../x"}}}, false},
		{"name with space", Ruleset{Networks: []Network{{Name: "a b", Bridge: "br"}}}, false},
		{"name with =", Ruleset{Containers: []Container{{ID: "c=d", Network: "a"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v; want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestTag_RoundTrip(t *testing.T) {
	for _, tag := range []Tag{{Static: true}, {Network: "front"}, {Network: "front", Container: "0123abcd"}} {
		got, ok := parseTag(tag.userData())
		if !ok || got != tag {
			t.Fatalf("parseTag(userData(%+v)) = %+v, %v", tag, got, ok)
		}
	}
	for _, ud := range [][]byte{nil, {0}, {0, 200, 'b'}, {1, 2, 'h', 'i'}, append([]byte{0, 6}, "other\x00"...), append([]byte{0, 12}, "berth x=1 y\x00"...)} {
		if tag, ok := parseTag(ud); ok {
			t.Fatalf("parseTag(%q) = %+v; want no tag", ud, tag)
		}
	}
}

func TestPlan_TagsAndCounts(t *testing.T) {
	c4 := netip.MustParseAddr("10.0.0.2")
	r := Ruleset{
		Networks: []Network{
			{Name: "a", Bridge: "br-a", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}},
			{Name: "i", Bridge: "br-i", Subnets: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")}, Internal: true},
		},
		Containers: []Container{{ID: "c", Network: "a", Ports: []PortMapping{
			{Proto: "tcp", HostPort: 8000, HostPortEnd: 8010, ContainerIP: c4, ContainerPort: 8000},
			{Proto: "udp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerIP: c4, ContainerPort: 53},
		}}},
	}
	count := map[string]int{}
	for _, rl := range plan(r) {
		count[rl.chain+" "+rl.tag.String()]++
		if len(rl.exprs) == 0 {
			t.Fatalf("empty rule in %s", rl.chain)
		}
	}
	want := map[string]int{
		"prerouting berth static": 1,
		"output berth static":     1,
		"forward berth net=a":     1, // isolation jump
		"isolation berth net=a":   1,
		"postrouting berth net=a": 5, // outbound + hairpin per subnet, localhost
		"forward berth net=i":     3, // isolation jump, two internal drops
		"isolation berth net=i":   1,
		"ports berth ctr=c net=a": 12, // 11 ports of the range + 1
	}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d rules; want %d", k, count[k], v)
		}
	}
	if len(count) != len(want) {
		t.Errorf("unexpected rule groups: %v", count)
	}
}

// FuzzParseTag feeds hostile rule userdata (anything a foreign rule in our
// table could carry) to the tag parser.
func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"", "\x00", "\x00\xff", "\x00\x0dberth static\x00", "\x00\x06berth \x00", "\x01\x00\x00\x05berth", "\x00\x0bberth net=\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, ud []byte) {
		tag, ok := parseTag(ud)
		if !ok {
			return
		}
		if back, ok := parseTag(tag.userData()); !ok || back != tag {
			t.Fatalf("tag %+v does not round-trip", tag)
		}
	})
}
