package bridge

import (
	"net"
	"net/netip"
	"regexp"
	"testing"

	"github.com/containerd/errdefs"
)

func TestName_DockerStyle(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"0123456789abcdef0123", "br-0123456789ab"},
		{"abc", "br-abc"},
		{"", "br-"},
	} {
		if got := Name(tc.id); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestValidIfName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"eth0", true},
		{"br-0123456789ab", true},
		{"berth0", true},
		{"", false},
		{"0123456789abcdef", false}, // 16 characters
		{"a/b", false},
		{"a b", false},
		{"a:1", false},
		{".", false},
		{"..", false},
		{"tab\t", false},
	} {
		if got := ValidIfName(tc.name); got != tc.ok {
			t.Errorf("ValidIfName(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestRandomMAC_UnicastLocallyAdministered(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		mac := RandomMAC()
		if len(mac) != 6 || mac[0]&0x01 != 0 || mac[0]&0x02 == 0 {
			t.Fatalf("RandomMAC() = %s: want a unicast, locally administered address", mac)
		}
		seen[mac.String()] = true
	}
	if len(seen) < 90 {
		t.Fatalf("100 random MACs gave only %d distinct values", len(seen))
	}
}

func TestMACFromIPv4(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"172.17.0.2", "02:42:ac:11:00:02"},
		{"::ffff:10.0.0.1", "02:42:0a:00:00:01"},
		{"fd00::1", ""},
	} {
		got := MACFromIPv4(netip.MustParseAddr(tc.ip))
		if (got == nil && tc.want != "") || (got != nil && got.String() != tc.want) {
			t.Errorf("MACFromIPv4(%s) = %v, want %q", tc.ip, got, tc.want)
		}
	}
}

func TestRandomName_VethFormat(t *testing.T) {
	re := regexp.MustCompile(`^veth[0-9a-f]{7}$`)
	for range 20 {
		if n := randomName("veth", 7); !re.MatchString(n) {
			t.Fatalf("randomName = %q", n)
		}
	}
}

func TestEndpointConfig_ValidateRejects(t *testing.T) {
	good := EndpointConfig{Bridge: "br0", NSPath: "/run/x", IfName: "eth0",
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}, Gateway4: netip.MustParseAddr("10.0.0.1")}
	if err := good.validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for name, mut := range map[string]func(*EndpointConfig){
		"bad bridge":      func(c *EndpointConfig) { c.Bridge = "a/b" },
		"long ifname":     func(c *EndpointConfig) { c.IfName = "0123456789abcdef" },
		"no namespace":    func(c *EndpointConfig) { c.NSPath = "" },
		"multicast mac":   func(c *EndpointConfig) { c.MAC = net.HardwareAddr{1, 0, 0, 0, 0, 1} },
		"short mac":       func(c *EndpointConfig) { c.MAC = net.HardwareAddr{2, 0, 0} },
		"v6 as gateway4":  func(c *EndpointConfig) { c.Gateway4 = netip.MustParseAddr("fd00::1") },
		"v4 as gateway6":  func(c *EndpointConfig) { c.Gateway6 = netip.MustParseAddr("10.0.0.1") },
		"mapped address":  func(c *EndpointConfig) { c.Addrs = []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.2/120")} },
		"invalid address": func(c *EndpointConfig) { c.Addrs = []netip.Prefix{{}} },
		"negative mtu":    func(c *EndpointConfig) { c.MTU = -1 },
	} {
		c := good
		mut(&c)
		if err := c.validate(); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: validate() = %v, want InvalidArgument", name, err)
		}
	}
}
