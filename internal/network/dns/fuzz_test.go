package dns

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzResolvConf feeds hostile host files and overrides. Whatever comes in,
// the output must parse back to the same nameservers, with the embedded server
// as the only one when embedded, and no override may smuggle in a line.
func FuzzResolvConf(f *testing.F) {
	for _, s := range []string{hostResolv, "", "nameserver", "nameserver \x00\n", "search\n", "options\n",
		"#\n;\n\r\n", "nameserver 127.0.0.11\nnameserver 127.0.0.11", "nameserver fe80::1%eth0\n",
		strings.Repeat("x", 70000), "domain a\nsearch b c\n", "options ndots:-1 ndots:x\n", "\xff\xfe\n"} {
		f.Add([]byte(s), "10.0.0.1", "example.com", "ndots:1", true)
		f.Add([]byte(s), "", "", "", false)
	}
	f.Add([]byte(""), "1.1.1.1\nnameserver 6.6.6.6", "a\nb", "x y", true)
	f.Fuzz(func(t *testing.T, host []byte, dnsArg, search, option string, embedded bool) {
		var cfg ResolvConfig
		cfg.Host, cfg.Embedded = host, embedded
		if dnsArg != "" {
			cfg.DNS = []string{dnsArg}
		}
		if search != "" {
			cfg.Search = []string{search}
		}
		if option != "" {
			cfg.Options = []string{option}
		}
		out, err := ResolvConf(cfg)
		if err != nil {
			return
		}
		back := parseResolvConf(out.Content)
		if embedded {
			if len(back.nameservers) != 1 || back.nameservers[0] != Address.Addr() {
				t.Fatalf("embedded resolv.conf names %v", back.nameservers)
			}
			if _, ok := back.option("ndots"); !ok {
				t.Fatalf("embedded resolv.conf without ndots:\n%s", out.Content)
			}
		} else if len(back.nameservers) == 0 {
			t.Fatalf("resolv.conf without nameserver:\n%s", out.Content)
		}
		if dnsArg != "" && !embedded {
			want, _ := netip.ParseAddr(strings.Trim(dnsArg, "[]"))
			if len(back.nameservers) != 1 || back.nameservers[0] != want {
				t.Fatalf("--dns %q gave nameservers %v", dnsArg, back.nameservers)
			}
		}
		for _, u := range out.Upstreams {
			if !u.Addr.IsValid() {
				t.Fatalf("invalid upstream %v", u)
			}
		}
	})
}

// FuzzHosts feeds hostile --add-host entries and hostnames: the file must keep
// one record per line, each an address, a tab and names without blanks.
func FuzzHosts(f *testing.F) {
	for _, s := range []string{"db:10.0.0.1", "gw:host-gateway", "six=[::1]", "v6:2001:db8::1", ":", "=", "a:",
		"a=b:c", "x\ny:1.2.3.4", "[::1]:x", "a:[]", "a:[::1", "a:1.2.3.4%eth0", "a:fe80::1%eth0"} {
		f.Add(s, "web", "example.com")
	}
	f.Add("a:1.1.1.1", "web\n1.2.3.4 evil", "")
	f.Fuzz(func(t *testing.T, extra, hostname, domain string) {
		cfg := HostsConfig{Hostname: hostname, Domainname: domain, ExtraHosts: []string{extra},
			HostGateway: []netip.Addr{netip.MustParseAddr("172.17.0.1")},
			Addrs:       []netip.Addr{netip.MustParseAddr("172.18.0.2")}}
		b, err := Hosts(cfg)
		if err != nil {
			return
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(lines) != 1+5+1+1 {
			t.Fatalf("%d lines:\n%s", len(lines), b)
		}
		for _, l := range lines {
			addr, names, ok := strings.Cut(l, "\t")
			if !ok {
				t.Fatalf("line %q has no tab", l)
			}
			if _, err := netip.ParseAddr(addr); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			for _, n := range strings.Split(names, " ") {
				if n == "" || strings.ContainsAny(n, "\t\r\n#") {
					t.Fatalf("line %q: bad name %q", l, n)
				}
			}
		}
	})
}
