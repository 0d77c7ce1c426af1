package cli

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestNaturalLess(t *testing.T) {
	in := []string{"net10", "net9", "b", "a", "net09", "net1", "1x", "x", "net", "10", "9"}
	sort.SliceStable(in, func(i, j int) bool { return naturalLess(in[i], in[j]) })
	want := []string{"1x", "9", "10", "a", "b", "net", "net1", "net9", "net09", "net10", "x"}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("got %v, want %v", in, want)
	}
	for _, s := range want {
		if naturalLess(s, s) {
			t.Errorf("naturalLess(%q, %q) is true", s, s)
		}
	}
}

func TestLabelList(t *testing.T) {
	var l labelList
	if l.String() != "" {
		t.Errorf("empty String() = %q", l.String())
	}
	for _, v := range []string{"a=b", "c", "a=d", "e=f=g"} {
		if err := l.Set(v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
	}
	want := map[string]string{"a": "d", "c": "", "e": "f=g"}
	if got := l.Map(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Map() = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "=x"} {
		err := l.Set(bad)
		if err == nil || err.Error() != "invalid label '"+bad+"': empty name" {
			t.Errorf("Set(%q) = %v", bad, err)
		}
	}
}

func TestOptMap(t *testing.T) {
	var m optMap
	if m.String() != "map[]" || len(m.Map()) != 0 || m.Map() == nil {
		t.Fatalf("empty: %q %v", m.String(), m.Map())
	}
	for _, v := range []string{"type=tmpfs", "o=size=1m", "flag"} {
		_ = m.Set(v)
	}
	want := map[string]string{"type": "tmpfs", "o": "size=1m", "flag": ""}
	if !reflect.DeepEqual(m.Map(), want) || m.String() != "map[flag: o:size=1m type:tmpfs]" {
		t.Fatalf("got %v %q", m.Map(), m.String())
	}
}

func TestParseNetworkAttachment(t *testing.T) {
	tests := []struct {
		in      string
		want    networkAttachment
		wantErr string
	}{
		{in: "mynet", want: networkAttachment{target: "mynet"}},
		{in: "container:abc", want: networkAttachment{target: "container:abc"}},
		{in: "name=mynet,alias=a,alias=b,ip=10.0.0.2,ip6=fd00::2,mac-address=02:42:ac:11:00:02,link-local-ip=169.254.0.2,driver-opt=k=v,gw-priority=5",
			want: networkAttachment{target: "mynet", aliases: []string{"a", "b"}, ipv4: "10.0.0.2", ipv6: "fd00::2",
				macAddress: "02:42:ac:11:00:02", linkLocalIPs: []string{"169.254.0.2"}, driverOpts: map[string]string{"k": "v"}, gwPriority: 5}},
		{in: "NAME=MyNet", want: networkAttachment{target: "mynet"}},
		{in: "alias=a", wantErr: "network name not specified"},
		{in: "name=n,bogus=1", wantErr: "invalid field key bogus"},
		{in: "name=n,gw-priority=x", wantErr: "invalid gw-priority"},
		{in: "name=n,driver-opt=x", wantErr: "invalid key value pair format in driver options"},
		{in: "name=n,ip", wantErr: "invalid field ip"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseNetworkAttachment(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestNetworkingConfig(t *testing.T) {
	ep := func(j string) *network.EndpointSettings {
		var e network.EndpointSettings
		if err := json.Unmarshal([]byte(j), &e); err != nil {
			t.Fatal(err)
		}
		return &e
	}
	tests := []struct {
		name    string
		nets    []string
		flags   endpointFlags
		mode    string
		want    map[string]*network.EndpointSettings
		wantErr string
	}{
		{name: "none given", mode: "default", want: map[string]*network.EndpointSettings{"default": {}}},
		{name: "one plain", nets: []string{"mynet"}, mode: "mynet", want: map[string]*network.EndpointSettings{}},
		{name: "host", nets: []string{"host"}, mode: "host", want: map[string]*network.EndpointSettings{}},
		{name: "flags on first", nets: []string{"mynet", "other"},
			flags: endpointFlags{aliases: []string{"a"}, ipv4: "10.1.0.5", ipv6: "fd00::5", macAddress: "02:42:ac:11:00:02", links: []string{"db:db"}},
			mode:  "mynet",
			want: map[string]*network.EndpointSettings{
				"mynet": ep(`{"Aliases":["a"],"Links":["db:db"],"IPAMConfig":{"IPv4Address":"10.1.0.5","IPv6Address":"fd00::5"},"MacAddress":"02:42:ac:11:00:02"}`),
				"other": {},
			}},
		{name: "mac on default", flags: endpointFlags{macAddress: "02:42:ac:11:00:02"}, mode: "default",
			want: map[string]*network.EndpointSettings{"default": ep(`{"MacAddress":"02:42:ac:11:00:02"}`)}},
		{name: "legacy link stays off bridge endpoint", nets: []string{"bridge"}, flags: endpointFlags{links: []string{"db"}}, mode: "bridge",
			want: map[string]*network.EndpointSettings{}},
		{name: "alias on default", flags: endpointFlags{aliases: []string{"a"}}, wantErr: "network-scoped aliases are only supported for user-defined networks"},
		{name: "mixed", nets: []string{"mynet", "host"}, wantErr: "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
		{name: "twice", nets: []string{"mynet", "mynet"}, wantErr: `network "mynet" is specified multiple times`},
		{name: "alias twice", nets: []string{"name=mynet,alias=x"}, flags: endpointFlags{aliases: []string{"a"}},
			wantErr: "conflicting options: cannot specify both --network-alias and per-network alias"},
		{name: "bad ip", nets: []string{"mynet"}, flags: endpointFlags{ipv4: "300.1.1.1"}, wantErr: "invalid IPv4 address: 300.1.1.1"},
		{name: "v6 as ip", nets: []string{"mynet"}, flags: endpointFlags{ipv4: "fd00::1"}, wantErr: "invalid IPv4 address: fd00::1"},
		{name: "bad ip6", nets: []string{"mynet"}, flags: endpointFlags{ipv6: "10.0.0.1"}, wantErr: "invalid IPv6 address: 10.0.0.1"},
		{name: "bad mac", flags: endpointFlags{macAddress: "bogus"}, wantErr: "bogus is not a valid mac address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var atts []networkAttachment
			for _, n := range tc.nets {
				a, err := parseNetworkAttachment(n)
				if err != nil {
					t.Fatal(err)
				}
				atts = append(atts, a)
			}
			mode, eps, err := networkingConfig(atts, tc.flags)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(mode) != tc.mode {
				t.Errorf("mode %q, want %q", mode, tc.mode)
			}
			got, _ := json.Marshal(eps)
			want, _ := json.Marshal(tc.want)
			if string(got) != string(want) {
				t.Errorf("endpoints\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestParseRun_NetworkFlags(t *testing.T) {
	spec, err := parseRun([]string{"--network", "appnet", "--network-alias", "web", "--ip", "10.9.0.5",
		"--dns", "1.1.1.1", "--add-host", "h:1.2.3.4", "--link", "db:db", "-p", "8080:80", "-P", "busybox"}, fakeEnv(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	hc := spec.HostConfig
	if hc.NetworkMode != "appnet" || !hc.PublishAllPorts || len(hc.PortBindings) != 1 ||
		!reflect.DeepEqual(hc.ExtraHosts, []string{"h:1.2.3.4"}) || !reflect.DeepEqual(hc.Links, []string{"db:db"}) ||
		len(hc.DNS) != 1 || hc.DNS[0] != netip.MustParseAddr("1.1.1.1") {
		t.Fatalf("host config: %+v", hc)
	}
	ep := spec.Networking.EndpointsConfig["appnet"]
	if ep == nil || !reflect.DeepEqual(ep.Aliases, []string{"web"}) || ep.IPAMConfig == nil ||
		ep.IPAMConfig.IPv4Address != netip.MustParseAddr("10.9.0.5") || !reflect.DeepEqual(ep.Links, []string{"db:db"}) {
		t.Fatalf("endpoint: %+v", ep)
	}
	if _, err := parseRun([]string{"--link", "db:", "busybox"}, fakeEnv(nil, nil)); err == nil {
		t.Errorf("bad --link accepted")
	}
	if _, err := parseRun([]string{"--network", "name=x,bogus=1", "busybox"}, fakeEnv(nil, nil)); err == nil ||
		!strings.Contains(err.Error(), `invalid argument "name=x,bogus=1" for "--network" flag: invalid field key bogus`) {
		t.Errorf("bad --network: %v", err)
	}
}

func TestBuildIPAM(t *testing.T) {
	tests := []struct {
		name    string
		o       ipamOptions
		want    string
		wantErr string
	}{
		{name: "empty", o: ipamOptions{driver: "default"}, want: `{"Driver":"default","Options":{},"Config":[]}`},
		{name: "full", o: ipamOptions{driver: "default", subnets: []string{"10.5.0.0/16", "fd00::/64"}, ipRanges: []string{"10.5.1.7/24"},
			gateways: []string{"10.5.0.1", "fd00::1"}, auxAddrs: map[string]string{"host1": "10.5.0.9"}, driverOpt: map[string]string{"k": "v"}},
			want: `{"Driver":"default","Options":{"k":"v"},"Config":[{"Subnet":"10.5.0.0/16","IPRange":"10.5.1.0/24","Gateway":"10.5.0.1","AuxiliaryAddresses":{"host1":"10.5.0.9"}},{"Subnet":"fd00::/64","Gateway":"fd00::1"}]}`},
		{name: "bare address", o: ipamOptions{subnets: []string{"10.0.0.1"}}, want: `{"Driver":"","Options":{},"Config":[{"Subnet":"10.0.0.1/32"}]}`},
		{name: "gateway without subnet", o: ipamOptions{gateways: []string{"10.0.0.1"}}, wantErr: "every ip-range or gateway must have a corresponding subnet"},
		{name: "overlap", o: ipamOptions{subnets: []string{"10.0.0.0/8", "10.1.0.0/16"}}, wantErr: "multiple overlapping subnet configuration is not supported"},
		{name: "gateway outside", o: ipamOptions{subnets: []string{"10.0.0.0/16"}, gateways: []string{"10.9.0.1"}}, wantErr: "no matching subnet for gateway 10.9.0.1"},
		{name: "range outside", o: ipamOptions{subnets: []string{"10.0.0.0/16"}, ipRanges: []string{"10.9.0.0/24"}}, wantErr: "no matching subnet for range 10.9.0.0/24"},
		{name: "two ranges", o: ipamOptions{subnets: []string{"10.0.0.0/16", "10.1.0.0/16"}, ipRanges: []string{"10.0.1.0/24", "10.0.2.0/24"}},
			wantErr: "cannot configure multiple ranges (10.0.2.0/24, 10.0.1.0/24) on the same subnet (10.0.0.0/16)"},
		{name: "two gateways", o: ipamOptions{subnets: []string{"10.0.0.0/16", "10.1.0.0/16"}, gateways: []string{"10.0.0.1", "10.0.0.2"}},
			wantErr: "cannot configure multiple gateways (10.0.0.2, 10.0.0.1) for the same subnet (10.0.0.0/16)"},
		{name: "aux outside", o: ipamOptions{subnets: []string{"10.0.0.0/16"}, auxAddrs: map[string]string{"a": "10.9.0.1"}}, wantErr: "no matching subnet for aux-address 10.9.0.1"},
		{name: "bad subnet", o: ipamOptions{subnets: []string{"bogus"}}, wantErr: "invalid subnet bogus"},
		{name: "bad gateway", o: ipamOptions{subnets: []string{"10.0.0.0/16"}, gateways: []string{"x"}}, wantErr: "invalid gateway x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildIPAM(tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(got)
			if string(b) != tc.want {
				t.Fatalf("got  %s\nwant %s", b, tc.want)
			}
		})
	}
}

func FuzzParseNetworkAttachment(f *testing.F) {
	for _, s := range []string{"mynet", "name=a,alias=b", "name=a,driver-opt=k=v,gw-priority=-3", `name="a,b"`, "name=\"", "=,=,",
		"name=a,ip=999.1.1.1,mac-address=zz", "container:x", strings.Repeat("a=b,", 1000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseNetworkAttachment(s)
		if err != nil {
			return
		}
		if a.target == "" && longNetworkSyntax.MatchString(s) {
			t.Fatalf("long form %q parsed without a target", s)
		}
		// Turning it into endpoint settings must not panic either.
		_, _, _ = networkingConfig([]networkAttachment{a}, endpointFlags{})
	})
}

func FuzzBuildIPAM(f *testing.F) {
	f.Add("10.0.0.0/16", "10.0.1.0/24", "10.0.0.1")
	f.Add("fd00::/64", "fd00::/80", "fd00::1")
	f.Add("bogus", "", "")
	f.Add("0.0.0.0/0", "255.255.255.255/32", "::")
	f.Fuzz(func(t *testing.T, subnet, ipRange, gateway string) {
		o := ipamOptions{subnets: []string{subnet}}
		if ipRange != "" {
			o.ipRanges = []string{ipRange}
		}
		if gateway != "" {
			o.gateways = []string{gateway}
		}
		ipam, err := buildIPAM(o)
		if err != nil {
			return
		}
		for _, c := range ipam.Config {
			if c.Gateway.IsValid() && !c.Subnet.Contains(c.Gateway) {
				t.Fatalf("gateway %s outside subnet %s", c.Gateway, c.Subnet)
			}
			if c.IPRange.IsValid() && !c.Subnet.Contains(c.IPRange.Addr()) {
				t.Fatalf("range %s outside subnet %s", c.IPRange, c.Subnet)
			}
		}
	})
}
