package ipam

import (
	"math/bits"
	"net/netip"
)

// u128 is an address as an unsigned 128-bit number. IPv4 addresses use the
// low 32 bits, so arithmetic never mixes the families.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])}
	}
	b := a.As16()
	var u u128
	for i := 0; i < 8; i++ {
		u.hi = u.hi<<8 | uint64(b[i])
		u.lo = u.lo<<8 | uint64(b[i+8])
	}
	return u
}

func fromU128(u u128, is4 bool) netip.Addr {
	if is4 {
		v := uint32(u.lo)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	var b [16]byte
	for i := 7; i >= 0; i-- {
		b[i] = byte(u.hi >> (8 * (7 - i)))
		b[i+8] = byte(u.lo >> (8 * (7 - i)))
	}
	return netip.AddrFrom16(b)
}

// add returns u+v and whether the sum overflowed 128 bits.
func (u u128) add(v u128) (u128, bool) {
	lo, c := bits.Add64(u.lo, v.lo, 0)
	hi, c := bits.Add64(u.hi, v.hi, c)
	return u128{hi, lo}, c != 0
}

// pow2 returns 2^n for n in [0,127].
func pow2(n int) u128 {
	if n >= 64 {
		return u128{hi: 1 << (n - 64)}
	}
	return u128{lo: 1 << n}
}

// width is the address length in bits of a's family.
func width(a netip.Addr) int {
	if a.Is4() {
		return 32
	}
	return 128
}

// first and last return the lowest and highest address of p.
func first(p netip.Prefix) u128 { return toU128(p.Masked().Addr()) }

func last(p netip.Prefix) u128 {
	f := first(p)
	host := width(p.Addr()) - p.Bits()
	if host == 128 {
		return u128{^uint64(0), ^uint64(0)}
	}
	m, _ := pow2(host).add(u128{^uint64(0), ^uint64(0)}) // 2^host - 1
	return u128{f.hi | m.hi, f.lo | m.lo}
}

// next returns a+1 inside its family, and false past the family's end.
func next(a netip.Addr) (netip.Addr, bool) {
	n := a.Next()
	return n, n.IsValid()
}

// afterPrefix returns the first address past p, and false when p ends the
// address space.
func afterPrefix(p netip.Prefix) (netip.Addr, bool) {
	l := last(p)
	if p.Addr().Is4() {
		if l.lo == 0xffffffff {
			return netip.Addr{}, false
		}
		return fromU128(u128{lo: l.lo + 1}, true), true
	}
	n, over := l.add(u128{lo: 1})
	if over {
		return netip.Addr{}, false
	}
	return fromU128(n, false), true
}

// isBroadcast reports whether a is the IPv4 broadcast address of p.
func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	return a.Is4() && toU128(a) == last(p)
}

// canonical turns an IPv4-mapped IPv6 prefix into plain IPv4 and masks it.
// It reports false for prefixes that are not usable network prefixes.
func canonical(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() || p.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	a := p.Addr()
	if a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
	}
	return p.Masked(), true
}
