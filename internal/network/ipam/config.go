package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Pool is one default address pool (dockerd's --default-address-pool and
// daemon.json "default-address-pools"): networks without a --subnet get a
// free subnet of Size bits carved out of Base.
type Pool struct {
	Base netip.Prefix `json:"base"`
	Size int          `json:"size"`
}

// String formats p as the flag takes it: "base=172.17.0.0/16,size=16".
func (p Pool) String() string { return fmt.Sprintf("base=%s,size=%d", p.Base, p.Size) }

// Validate checks that Base is a network prefix and Size lies between
// Base's length and the family's width.
func (p Pool) Validate() error {
	c, ok := canonical(p.Base)
	if !ok || c != p.Base {
		return invalid("invalid default address pool %s: base is not a network prefix", p)
	}
	// Two addresses are the least a subnet needs beyond its network
	// address: the gateway and one endpoint.
	if maxSize := width(p.Base.Addr()) - 2; p.Size < p.Base.Bits() || p.Size > maxSize {
		return invalid("invalid default address pool %s: size must be between %d and %d", p, p.Base.Bits(), maxSize)
	}
	return nil
}

// ParsePool parses one --default-address-pool value,
// "base=172.30.0.0/16,size=24". Both fields are required; keys are case
// insensitive as in dockerd.
func ParsePool(s string) (Pool, error) {
	var (
		p                Pool
		haveBase, haveSz bool
	)
	for field := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return Pool{}, invalid("invalid default address pool %q: field %q must be a key=value pair", s, field)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "base":
			b, err := netip.ParsePrefix(strings.TrimSpace(v))
			if err != nil {
				return Pool{}, invalid("invalid default address pool %q: invalid base %q", s, v)
			}
			p.Base, haveBase = b, true
		case "size":
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return Pool{}, invalid("invalid default address pool %q: invalid size %q", s, v)
			}
			p.Size, haveSz = n, true
		default:
			return Pool{}, invalid("invalid default address pool %q: unknown field %q", s, k)
		}
	}
	if !haveBase || !haveSz {
		return Pool{}, invalid("invalid default address pool %q: base and size are required", s)
	}
	c, ok := canonical(p.Base)
	if !ok || p.Base.Masked() != p.Base {
		return Pool{}, invalid("invalid default address pool %q: base is not a network prefix", s)
	}
	p.Base = c
	if err := p.Validate(); err != nil {
		return Pool{}, err
	}
	return p, nil
}

// DefaultPools returns dockerd's default address pools: 172.17.0.0/16
// through 172.31.0.0/16 as /16s, then 192.168.0.0/16 as /20s. The first,
// 172.17.0.0/16, is what the default bridge gets when it is free.
func DefaultPools() []Pool {
	pools := make([]Pool, 0, 16)
	for i := 17; i <= 31; i++ {
		pools = append(pools, Pool{Base: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16), Size: 16})
	}
	return append(pools, Pool{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20})
}

// Config is the address-management part of the daemon configuration.
type Config struct {
	// Pools are the default address pools, in order of preference. Empty
	// means DefaultPools.
	Pools []Pool
	// BIP is --bip: the default bridge's address and prefix length
	// ("192.168.1.5/24" gives subnet 192.168.1.0/24, gateway 192.168.1.5).
	// The zero value lets the allocator choose.
	BIP netip.Prefix
	// FixedCIDR is --fixed-cidr: the range the default bridge hands
	// container addresses out of. Without BIP it is also the subnet.
	FixedCIDR netip.Prefix
}

// DefaultConfig returns dockerd's defaults.
func DefaultConfig() Config { return Config{Pools: DefaultPools()} }

// Validate checks c without changing it.
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.Pools {
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BIP.IsValid() {
		sub, ok := canonical(c.BIP)
		switch {
		case !ok || !c.BIP.Addr().Is4():
			errs = append(errs, invalid("invalid bip %s: must be an IPv4 address with a prefix length", c.BIP))
		case c.BIP.Addr() == sub.Addr() || isBroadcast(sub, c.BIP.Addr()):
			errs = append(errs, invalid("invalid bip %s: the address is the network or broadcast address of %s", c.BIP, sub))
		}
	}
	if c.FixedCIDR.IsValid() {
		fc, ok := canonical(c.FixedCIDR)
		switch {
		case !ok || !c.FixedCIDR.Addr().Is4() || fc != c.FixedCIDR:
			errs = append(errs, invalid("invalid fixed-cidr %s: must be an IPv4 network prefix", c.FixedCIDR))
		case c.BIP.IsValid() && (c.FixedCIDR.Bits() < c.BIP.Bits() || !c.BIP.Masked().Contains(fc.Addr())):
			errs = append(errs, invalid("invalid fixed-cidr %s: not within bip subnet %s", c.FixedCIDR, c.BIP.Masked()))
		}
	}
	return errors.Join(errs...)
}

func (c Config) pools() []Pool {
	if len(c.Pools) == 0 {
		return DefaultPools()
	}
	return c.Pools
}

// DefaultBridge returns the request that creates the default bridge network
// under id, from --bip and --fixed-cidr as dockerd reads them: --bip fixes
// subnet and gateway, --fixed-cidr the range (and the subnet when --bip is
// unset); with neither, the subnet comes from the pools avoiding exclude.
func (c Config) DefaultBridge(id string, exclude []netip.Prefix) NetworkRequest {
	req := NetworkRequest{ID: id, Exclude: exclude}
	switch {
	case c.BIP.IsValid():
		req.Subnets = []SubnetRequest{{Subnet: c.BIP.Masked(), IPRange: c.FixedCIDR, Gateway: c.BIP.Addr()}}
	case c.FixedCIDR.IsValid():
		req.Subnets = []SubnetRequest{{Subnet: c.FixedCIDR.Masked(), IPRange: c.FixedCIDR.Masked()}}
	}
	return req
}

// SubnetSpec is one IPAM config entry as the API carries it (the strings of
// moby's network.IPAMConfig).
type SubnetSpec struct {
	Subnet, IPRange, Gateway string
}

// SubnetRequest is a user-configured subnet of a new network.
type SubnetRequest struct {
	// Subnet is the network prefix, masked.
	Subnet netip.Prefix
	// IPRange optionally restricts dynamic allocation to a sub-prefix;
	// fixed addresses may still lie anywhere in Subnet.
	IPRange netip.Prefix
	// Gateway is optional; the zero value means Subnet's first address.
	Gateway netip.Addr
}

// ParseSubnets validates API IPAM entries with dockerd's messages
// (api/types/network.ValidateIPAM) and returns them parsed. Every problem
// is reported, joined under "invalid network config:", as
// errdefs.ErrInvalidArgument.
func ParseSubnets(specs []SubnetSpec) ([]SubnetRequest, error) {
	var (
		errs []error
		out  = make([]SubnetRequest, 0, len(specs))
	)
	for _, s := range specs {
		sub, err := netip.ParsePrefix(s.Subnet)
		if err != nil || sub.Addr().Zone() != "" || sub.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("invalid subnet %s: invalid CIDR block notation", s.Subnet))
			continue
		}
		fam := family(sub.Addr())
		if sub != sub.Masked() {
			errs = append(errs, fmt.Errorf("invalid subnet %s: it should be %s", sub, sub.Masked()))
		}
		r := SubnetRequest{Subnet: sub.Masked()}
		if s.IPRange != "" {
			ipr, err := netip.ParsePrefix(s.IPRange)
			switch {
			case err != nil || ipr.Addr().Zone() != "" || ipr.Addr().Is4In6():
				errs = append(errs, fmt.Errorf("invalid ip-range %s: invalid CIDR block notation", s.IPRange))
			case family(ipr.Addr()) != fam:
				errs = append(errs, fmt.Errorf("invalid ip-range %s: parent subnet is an %s block", s.IPRange, fam))
			default:
				bad := false
				if ipr.Bits() < sub.Bits() {
					bad = true
					errs = append(errs, fmt.Errorf("invalid ip-range %s: CIDR block is bigger than its parent subnet %s", s.IPRange, sub))
				}
				if ipr != ipr.Masked() {
					bad = true
					errs = append(errs, fmt.Errorf("invalid ip-range %s: it should be %s", ipr, ipr.Masked()))
				}
				if !sub.Overlaps(ipr) {
					bad = true
					errs = append(errs, fmt.Errorf("invalid ip-range %s: parent subnet %s doesn't contain ip-range", s.IPRange, sub))
				}
				if !bad {
					r.IPRange = ipr
				}
			}
		}
		if s.Gateway != "" {
			gw, err := netip.ParseAddr(s.Gateway)
			switch {
			case err != nil || gw.Zone() != "" || gw.Is4In6():
				errs = append(errs, fmt.Errorf("invalid gateway %s: invalid address", s.Gateway))
			case family(gw) != fam:
				errs = append(errs, fmt.Errorf("invalid gateway %s: parent subnet is an %s block", s.Gateway, fam))
			case !sub.Contains(gw):
				errs = append(errs, fmt.Errorf("invalid gateway %s: parent subnet %s doesn't contain this address", s.Gateway, sub))
			default:
				r.Gateway = gw
			}
		}
		out = append(out, r)
	}
	if err := invalidConfig(errs); err != nil {
		return nil, err
	}
	return out, nil
}

// Family is an address family as dockerd names it in messages.
type Family string

// The two families.
const (
	IPv4 Family = "IPv4"
	IPv6 Family = "IPv6"
)

func family(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}
