package cli

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"github.com/moby/moby/api/types/network"
)

// Default list formats of `network ls`, as Docker prints them.
const (
	defaultNetworkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
	networkQuietFormat  = "{{.ID}}"
)

// networkContext renders one network for `network ls` (the fields of
// docker/cli's network formatter).
type networkContext struct {
	n     network.Summary
	trunc bool
	hdr   bool
}

var _ formatter = networkContext{}

func (x networkContext) header() any { x.hdr = true; return x }

func (networkContext) fields() []string {
	return []string{"CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope"}
}

// ID is the network ID, 12 characters unless --no-trunc.
func (x networkContext) ID() string {
	if x.hdr {
		return "NETWORK ID"
	}
	if x.trunc {
		return truncateID(x.n.ID)
	}
	return x.n.ID
}

// Name is the network name.
func (x networkContext) Name() string {
	if x.hdr {
		return "NAME"
	}
	return x.n.Name
}

// Driver is the network driver.
func (x networkContext) Driver() string {
	if x.hdr {
		return "DRIVER"
	}
	return x.n.Driver
}

// Scope is local, global or swarm.
func (x networkContext) Scope() string {
	if x.hdr {
		return "SCOPE"
	}
	return x.n.Scope
}

// IPv4 tells whether IPv4 is enabled.
func (x networkContext) IPv4() string {
	if x.hdr {
		return "IPV4"
	}
	return strconv.FormatBool(x.n.EnableIPv4)
}

// IPv6 tells whether IPv6 is enabled.
func (x networkContext) IPv6() string {
	if x.hdr {
		return "IPV6"
	}
	return strconv.FormatBool(x.n.EnableIPv6)
}

// Internal tells whether the network has no outside access.
func (x networkContext) Internal() string {
	if x.hdr {
		return "INTERNAL"
	}
	return strconv.FormatBool(x.n.Internal)
}

// Labels joins all labels as k=v, sorted by key.
func (x networkContext) Labels() string {
	if x.hdr {
		return "LABELS"
	}
	return joinLabels(x.n.Labels)
}

// Label returns the value of one label.
func (x networkContext) Label(name string) string {
	if x.hdr {
		return labelHeader(name)
	}
	return x.n.Labels[name]
}

// CreatedAt is the creation time as Go prints a time.
func (x networkContext) CreatedAt() string {
	if x.hdr {
		return "CREATED AT"
	}
	return x.n.Created.String()
}

// networkRows sorts networks by name, naturally, and wraps them for writeList.
func networkRows(nets []network.Summary, trunc bool) []networkContext {
	sorted := append([]network.Summary(nil), nets...)
	sort.SliceStable(sorted, func(i, j int) bool { return naturalLess(sorted[i].Name, sorted[j].Name) })
	rows := make([]networkContext, len(sorted))
	for i, n := range sorted {
		rows[i] = networkContext{n: n, trunc: trunc}
	}
	return rows
}

// ipamOptions are the IPAM flags of `network create`.
type ipamOptions struct {
	driver    string
	subnets   []string
	ipRanges  []string
	gateways  []string
	auxAddrs  map[string]string
	driverOpt map[string]string
}

// buildIPAM groups --subnet, --ip-range, --gateway and --aux-address into
// one IPAM config per subnet, with docker's checks and messages: each
// range, gateway and auxiliary address must fall in exactly one of the
// given (non-overlapping) subnets. Subnets keep their command-line order.
func buildIPAM(o ipamOptions) (*network.IPAM, error) {
	if len(o.subnets) < len(o.ipRanges) || len(o.subnets) < len(o.gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	configs := make([]network.IPAMConfig, 0, len(o.subnets))
	for _, s := range o.subnets {
		p, err := parseSubnet(s)
		if err != nil {
			return nil, err
		}
		for _, prev := range configs {
			if prev.Subnet.Overlaps(p) {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		configs = append(configs, network.IPAMConfig{Subnet: p})
	}
	// owner returns the config whose subnet holds a, or nil.
	owner := func(a netip.Addr) *network.IPAMConfig {
		for i := range configs {
			if configs[i].Subnet.Contains(a) {
				return &configs[i]
			}
		}
		return nil
	}
	for _, r := range o.ipRanges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, fmt.Errorf("invalid ip-range %s: %w", r, err)
		}
		p = p.Masked()
		cfg := owner(p.Addr())
		if cfg == nil {
			return nil, fmt.Errorf("no matching subnet for range %s", p)
		}
		if cfg.IPRange.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", p, cfg.IPRange, cfg.Subnet)
		}
		cfg.IPRange = p
	}
	for _, g := range o.gateways {
		a, err := netip.ParseAddr(g)
		if err != nil {
			return nil, fmt.Errorf("invalid gateway %s: %w", g, err)
		}
		cfg := owner(a)
		if cfg == nil {
			return nil, fmt.Errorf("no matching subnet for gateway %s", a)
		}
		if cfg.Gateway.IsValid() {
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", a, cfg.Gateway, cfg.Subnet)
		}
		cfg.Gateway = a
	}
	keys := make([]string, 0, len(o.auxAddrs))
	for k := range o.auxAddrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := o.auxAddrs[k]
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("invalid aux-address %s: %w", v, err)
		}
		cfg := owner(a)
		if cfg == nil {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", v)
		}
		if cfg.AuxAddress == nil {
			cfg.AuxAddress = map[string]netip.Addr{}
		}
		cfg.AuxAddress[k] = a
	}
	opts := o.driverOpt
	if opts == nil {
		opts = map[string]string{}
	}
	return &network.IPAM{Driver: o.driver, Options: opts, Config: configs}, nil
}

// parseSubnet parses a --subnet value in CIDR form; a bare address is a
// single-address subnet, as docker takes it.
func parseSubnet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: invalid CIDR address: %s", s, s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDriverOpts parses --driver-opt key=value values of `network connect`.
func parseDriverOpts(opts []string) (map[string]string, error) {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		k, v, ok := cutTrimmed(o)
		if !ok || k == "" {
			return nil, errors.New("invalid key/value pair format in driver options")
		}
		m[k] = v
	}
	return m, nil
}

// parseAddrs parses a list of IP addresses; flag names the option in errors.
func parseAddrs(flag string, vals []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, v := range vals {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for %q flag: invalid IP address", v, flag)
		}
		out = append(out, a)
	}
	return out, nil
}
