package ipam_test

import (
	"encoding/json"
	"net/netip"
	"testing"
	"testing/quick"

	"berth/internal/network/ipam"
)

// oracle is the naive model: which owner holds which address index, per
// family, on a network with subnet 10.0.0.0/28 (range .8/29, gateway .1)
// and fd00::/124 (gateway ::1).
type oracle struct {
	v4, v6 map[int]int // owner → host index
}

func (o *oracle) heldBy(m map[int]int, idx int) bool {
	for _, i := range m {
		if i == idx {
			return true
		}
	}
	return false
}

func (o *oracle) lowest(m map[int]int, from, to int, reserved ...int) (int, bool) {
next:
	for i := from; i <= to; i++ {
		for _, r := range reserved {
			if i == r {
				continue next
			}
		}
		if !o.heldBy(m, i) {
			return i, true
		}
	}
	return 0, false
}

// allocate returns the expected (v4, v6) host indexes, or ok=false.
func (o *oracle) allocate(owner, fixed int) (int, int, bool) {
	if i4, held := o.v4[owner]; held {
		if fixed >= 0 && fixed != i4 {
			return 0, 0, false
		}
		return i4, o.v6[owner], true
	}
	i4 := fixed
	if fixed < 0 {
		var ok bool
		if i4, ok = o.lowest(o.v4, 8, 15, 0, 1, 15); !ok {
			return 0, 0, false
		}
	} else if fixed >= 16 || fixed == 0 || fixed == 1 || fixed == 15 || o.heldBy(o.v4, fixed) {
		return 0, 0, false
	}
	i6, ok := o.lowest(o.v6, 0, 15, 0, 1)
	if !ok {
		return 0, 0, false
	}
	o.v4[owner], o.v6[owner] = i4, i6
	return i4, i6, true
}

func v4(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}) }
func v6(i int) netip.Addr {
	return netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(i)})
}

// TestState_QuickAgainstOracle runs random scripts of allocations (dynamic
// and fixed), releases and JSON round trips (a daemon restart) and checks
// every answer against the oracle, plus the invariants: no address held
// twice, never the network, broadcast or gateway address.
func TestState_QuickAgainstOracle(t *testing.T) {
	check := func(script []uint32) bool {
		s, _, err := ipam.State{}.AddNetwork(nil, ipam.NetworkRequest{ID: "n", IPv6: true, Subnets: []ipam.SubnetRequest{
			{Subnet: pfx("10.0.0.0/28"), IPRange: pfx("10.0.0.8/29")},
			{Subnet: pfx("fd00::/124")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		o := &oracle{v4: map[int]int{}, v6: map[int]int{}}
		for step, x := range script {
			owner := int(x>>2) % 10
			switch x % 4 {
			case 0, 1, 2:
				fixed := -1
				req := ipam.EndpointRequest{Network: "n", Owner: string(rune('a' + owner))}
				if x%4 == 2 {
					fixed = int(x>>6) % 20
					req.IPv4 = v4(fixed)
				}
				next, ep, err := s.AllocateEndpoint(req)
				w4, w6, ok := o.allocate(owner, fixed)
				if ok != (err == nil) {
					t.Logf("step %d: %+v: err %v, oracle ok %v", step, req, err, ok)
					return false
				}
				if ok && (ep.IPv4.Addr() != v4(w4) || ep.IPv6.Addr() != v6(w6)) {
					t.Logf("step %d: %+v: got %v %v, oracle %v %v", step, req, ep.IPv4, ep.IPv6, v4(w4), v6(w6))
					return false
				}
				if ok {
					s = next
				}
			case 3:
				s = s.ReleaseOwner(string(rune('a' + owner)))
				delete(o.v4, owner)
				delete(o.v6, owner)
			}
			if x>>10%5 == 0 {
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				s = ipam.State{}
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatal(err)
				}
			}
			if !invariants(t, s) {
				return false
			}
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 500}); err != nil {
		t.Fatal(err)
	}
}

func invariants(t *testing.T, s ipam.State) bool {
	t.Helper()
	for _, n := range s.Networks {
		owners := map[string]map[bool]bool{} // owner → family held
		for _, sub := range n.Subnets {
			for a, o := range sub.Addresses {
				if !sub.Subnet.Contains(a) || a == sub.Subnet.Addr() || a == sub.Gateway {
					t.Logf("%s handed out in %v", a, sub)
					return false
				}
				if a.Is4() && a == v4(15) {
					t.Logf("broadcast %s handed out", a)
					return false
				}
				if owners[o] == nil {
					owners[o] = map[bool]bool{}
				}
				if owners[o][a.Is4()] {
					t.Logf("owner %s holds two addresses of a family", o)
					return false
				}
				owners[o][a.Is4()] = true
			}
		}
	}
	return true
}
