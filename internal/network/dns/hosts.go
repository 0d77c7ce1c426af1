package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
)

// HostGateway is the --add-host address that stands for the host (dockerd's
// "host-gateway", resolved to HostsConfig.HostGateway).
const HostGateway = "host-gateway"

// HostsConfig is the input of a container's /etc/hosts.
type HostsConfig struct {
	// Hostname and Domainname are the container's (--hostname, --domainname).
	Hostname, Domainname string
	// Addrs are the container's own addresses; each gets a line with its
	// hostname.
	Addrs []netip.Addr
	// ExtraHosts are --add-host entries, "name:address" as the Engine API
	// carries them ("name=address" and a bracketed IPv6 address are accepted
	// too); the address may be "host-gateway".
	ExtraHosts []string
	// HostGateway are the addresses "host-gateway" stands for.
	HostGateway []netip.Addr
	// NoIPv6 leaves out the IPv6 entries, for a container whose IPv6 is
	// disabled; by default they are written, as dockerd does.
	NoIPv6 bool
}

type hostRecord struct {
	addr  netip.Addr
	hosts string
}

// defaults are dockerd's fixed entries (libnetwork/etchosts).
var (
	defaultHosts4 = []hostRecord{{netip.MustParseAddr("127.0.0.1"), "localhost"}}
	defaultHosts6 = []hostRecord{
		{netip.IPv6Loopback(), "localhost ip6-localhost ip6-loopback"},
		{netip.MustParseAddr("fe00::"), "ip6-localnet"},
		{netip.MustParseAddr("ff00::"), "ip6-mcastprefix"},
		{netip.MustParseAddr("ff02::1"), "ip6-allnodes"},
		{netip.MustParseAddr("ff02::2"), "ip6-allrouters"},
	}
)

// ParseExtraHost splits an --add-host entry into its name and addresses:
// "host-gateway" yields hostGateway, which must then not be empty. A missing
// separator, an empty or malformed name, or an invalid address is
// errdefs.ErrInvalidArgument.
func ParseExtraHost(s string, hostGateway []netip.Addr) (string, []netip.Addr, error) {
	name, addr, ok := strings.Cut(s, "=") // the docker CLI's form; the API's is ":"
	if !ok {
		name, addr, ok = strings.Cut(s, ":")
	}
	if !ok {
		return "", nil, fmt.Errorf("extra host %q: not name:address: %w", s, errdefs.ErrInvalidArgument)
	}
	if err := checkHostname(name); err != nil {
		return "", nil, fmt.Errorf("extra host %q: %w", s, err)
	}
	if addr == HostGateway {
		if len(hostGateway) == 0 {
			return "", nil, fmt.Errorf("extra host %q: unable to derive the IP value for host-gateway: %w", s, errdefs.ErrInvalidArgument)
		}
		return name, hostGateway, nil
	}
	if len(addr) > 2 && addr[0] == '[' && addr[len(addr)-1] == ']' {
		addr = addr[1 : len(addr)-1]
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "", nil, fmt.Errorf("extra host %q: invalid address: %w", s, errdefs.ErrInvalidArgument)
	}
	return name, []netip.Addr{a}, nil
}

// checkHostname rejects a name that would break its hosts line.
func checkHostname(name string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == '#' || r == ':' || r == '[' || r == ']'
	}) {
		return fmt.Errorf("invalid host name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Hosts generates a container's /etc/hosts as dockerd does: localhost and
// the IPv6 names, then the --add-host entries in order, then a line per own
// address with the hostname — its full name (hostname.domainname) followed by
// the bare one when it has a dot. Fields are separated by a tab.
func Hosts(cfg HostsConfig) ([]byte, error) {
	recs := append([]hostRecord(nil), defaultHosts4...)
	if !cfg.NoIPv6 {
		recs = append(recs, defaultHosts6...)
	}
	for _, e := range cfg.ExtraHosts {
		name, addrs, err := ParseExtraHost(e, cfg.HostGateway)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			recs = append(recs, hostRecord{a, name})
		}
	}
	if len(cfg.Addrs) > 0 {
		host := cfg.Hostname
		if cfg.Domainname != "" {
			host += "." + cfg.Domainname
		}
		if err := checkHostname(host); err != nil {
			return nil, err
		}
		names := host
		if short, _, ok := strings.Cut(host, "."); ok && short != "" {
			names += " " + short
		}
		for _, a := range cfg.Addrs {
			recs = append(recs, hostRecord{a, names})
		}
	}
	var b bytes.Buffer
	for _, r := range recs {
		if cfg.NoIPv6 && r.addr.Is6() && !r.addr.Is4In6() {
			continue
		}
		fmt.Fprintf(&b, "%s\t%s\n", r.addr, r.hosts)
	}
	return b.Bytes(), nil
}

// Hostname generates a container's /etc/hostname.
func Hostname(name string) ([]byte, error) {
	if err := checkHostname(name); err != nil {
		return nil, err
	}
	return []byte(name + "\n"), nil
}
