package ipam

import "net/netip"

// chooseSubnet returns the first subnet, in pool order and address order,
// that overlaps nothing in avoid. It never enumerates blocked candidates one
// by one: a candidate inside a bigger blocking prefix jumps past that
// prefix, so each pool takes at most len(avoid)+1 steps even for a /8 cut
// into /30s or an IPv6 pool.
func chooseSubnet(pools []Pool, fam Family, avoid []netip.Prefix) (netip.Prefix, bool) {
	for _, p := range pools {
		base, ok := canonical(p.Base)
		if !ok || family(base.Addr()) != fam || p.Size < base.Bits() || p.Size > width(base.Addr()) {
			continue
		}
		cand := netip.PrefixFrom(base.Addr(), p.Size)
		for base.Contains(cand.Addr()) {
			blocker, blocked := overlapping(cand, avoid)
			if !blocked {
				return cand, true
			}
			skip := cand
			if blocker.Bits() < cand.Bits() {
				skip = blocker
			}
			after, ok := afterPrefix(skip)
			if !ok {
				break
			}
			cand = netip.PrefixFrom(after, p.Size)
		}
	}
	return netip.Prefix{}, false
}

// overlapping returns the biggest prefix of avoid that overlaps p.
func overlapping(p netip.Prefix, avoid []netip.Prefix) (netip.Prefix, bool) {
	var (
		best  netip.Prefix
		found bool
	)
	for _, a := range avoid {
		if a.Addr().Is4() != p.Addr().Is4() || !a.Overlaps(p) {
			continue
		}
		if !found || a.Bits() < best.Bits() {
			best, found = a, true
		}
	}
	return best, found
}
