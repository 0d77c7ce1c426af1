package ipam

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/containerd/errdefs"
)

// State is everything the allocator knows: the networks, their subnets and
// the addresses handed out. It is a plain value that marshals to JSON; the
// caller persists it (see Store) before acting on a decision, which is what
// keeps an address from being handed out twice across a daemon restart.
//
// State's methods never modify their receiver: each returns a new State
// that shares unchanged networks with the old one. Callers must therefore
// treat a State, and the maps and slices reachable from it, as read-only.
type State struct {
	Networks map[string]Network `json:"networks,omitempty"`
}

// Network is one network's address plan.
type Network struct {
	ID      string   `json:"id"`
	Subnets []Subnet `json:"subnets"`
}

// Subnet is one subnet of a network and the addresses allocated in it.
type Subnet struct {
	// Subnet is the network prefix.
	Subnet netip.Prefix `json:"subnet"`
	// IPRange, when set, is where dynamic addresses come from.
	IPRange netip.Prefix `json:"ipRange,omitzero"`
	// Gateway is reserved for the bridge; it is never handed out.
	Gateway netip.Addr `json:"gateway"`
	// User reports a subnet the user configured (--subnet, --bip,
	// --fixed-cidr), on which fixed addresses (--ip) are allowed.
	User bool `json:"user,omitempty"`
	// Addresses maps each allocated address to its owner (an endpoint ID).
	Addresses map[netip.Addr]string `json:"addresses,omitempty"`
}

// Prefix returns a as an address with the subnet's prefix length, the form
// an interface address takes.
func (s Subnet) Prefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, s.Subnet.Bits()) }

// dynamicRange is where dynamic addresses come from.
func (s Subnet) dynamicRange() netip.Prefix {
	if s.IPRange.IsValid() {
		return s.IPRange
	}
	return s.Subnet
}

// reserved reports addresses never handed out: the network address, the
// IPv4 broadcast address and the gateway.
func (s Subnet) reserved(a netip.Addr) bool {
	return a == s.Subnet.Addr() || isBroadcast(s.Subnet, a) || a == s.Gateway
}

func (s Subnet) free(a netip.Addr) bool {
	if s.reserved(a) {
		return false
	}
	_, taken := s.Addresses[a]
	return !taken
}

// lowestFree returns the lowest free address of the dynamic range, as
// dockerd picks them. The scan skips only taken or reserved addresses, so
// it ends after at most len(Addresses)+3 steps.
func (s Subnet) lowestFree() (netip.Addr, bool) {
	r := s.dynamicRange()
	for a := r.Addr(); r.Contains(a); {
		if s.free(a) {
			return a, true
		}
		n, ok := next(a)
		if !ok {
			break
		}
		a = n
	}
	return netip.Addr{}, false
}

func (n Network) clone() Network {
	c := Network{ID: n.ID, Subnets: slices.Clone(n.Subnets)}
	for i := range c.Subnets {
		c.Subnets[i].Addresses = maps.Clone(c.Subnets[i].Addresses)
	}
	return c
}

// with returns a copy of s where network n is replaced (or added).
func (s State) with(n Network) State {
	nets := make(map[string]Network, len(s.Networks)+1)
	maps.Copy(nets, s.Networks)
	nets[n.ID] = n
	return State{Networks: nets}
}

// Clone returns a deep copy of s that the caller may modify.
func (s State) Clone() State {
	c := State{Networks: make(map[string]Network, len(s.Networks))}
	for id, n := range s.Networks {
		c.Networks[id] = n.clone()
	}
	return c
}

// Network returns the network with the given ID.
func (s State) Network(id string) (Network, bool) {
	n, ok := s.Networks[id]
	return n, ok
}

// NetworkRequest asks for a new network.
type NetworkRequest struct {
	// ID names the network in the State; it must be unique.
	ID string
	// Subnets are the user-configured subnets (--subnet, --ip-range,
	// --gateway). A family without one gets a subnet from the pools: IPv4
	// always, IPv6 when IPv6 is set.
	Subnets []SubnetRequest
	// IPv6 asks for an IPv6 subnet too (--ipv6).
	IPv6 bool
	// Exclude lists prefixes a subnet chosen from the pools must not
	// overlap: the host's routes and interface addresses (the caller reads
	// them with netlink) and its nameservers. Zero-length prefixes (default
	// routes) are ignored.
	Exclude []netip.Prefix
}

// AddNetwork decides the subnets of a new network. User subnets must not
// overlap any existing network's (ErrPoolOverlap); missing families are
// carved out of pools, avoiding existing networks and req.Exclude. The
// gateway defaults to the subnet's first address.
func (s State) AddNetwork(pools []Pool, req NetworkRequest) (State, Network, error) {
	if req.ID == "" {
		return s, Network{}, invalid("network ID is empty")
	}
	if _, ok := s.Networks[req.ID]; ok {
		return s, Network{}, errorf(errdefs.ErrAlreadyExists, "network %s already exists", req.ID)
	}
	var taken []netip.Prefix
	for _, n := range s.Networks {
		for _, sub := range n.Subnets {
			taken = append(taken, sub.Subnet)
		}
	}
	n := Network{ID: req.ID}
	have := map[Family]bool{}
	for _, r := range req.Subnets {
		sub, ok := canonical(r.Subnet)
		if !ok {
			return s, Network{}, invalid("invalid subnet %s: invalid CIDR block notation", r.Subnet)
		}
		for _, t := range taken {
			if t.Overlaps(sub) {
				return s, Network{}, fmtPoolOverlap()
			}
		}
		ns, err := newSubnet(sub, r.IPRange, r.Gateway, true)
		if err != nil {
			return s, Network{}, err
		}
		taken = append(taken, sub)
		have[family(sub.Addr())] = true
		n.Subnets = append(n.Subnets, ns)
	}
	want := []Family{IPv4}
	if req.IPv6 {
		want = append(want, IPv6)
	}
	for _, fam := range want {
		if have[fam] {
			continue
		}
		avoid := slices.Clone(taken)
		for _, e := range req.Exclude {
			if c, ok := canonical(e); ok && c.Bits() > 0 {
				avoid = append(avoid, c)
			}
		}
		sub, ok := chooseSubnet(pools, fam, avoid)
		if !ok {
			if fam == IPv6 {
				return s, Network{}, invalid("could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")
			}
			return s, Network{}, ErrNoMoreSubnets
		}
		ns, err := newSubnet(sub, netip.Prefix{}, netip.Addr{}, false)
		if err != nil {
			return s, Network{}, err
		}
		taken = append(taken, sub)
		n.Subnets = append(n.Subnets, ns)
	}
	return s.with(n), n.clone(), nil
}

func fmtPoolOverlap() error {
	return &wrapped{prefix: "invalid pool request: ", err: ErrPoolOverlap}
}

// wrapped prefixes a sentinel's text while keeping it matchable.
type wrapped struct {
	prefix string
	err    error
}

func (w *wrapped) Error() string { return w.prefix + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func newSubnet(sub, ipRange netip.Prefix, gw netip.Addr, user bool) (Subnet, error) {
	ns := Subnet{Subnet: sub, User: user}
	if ipRange.IsValid() {
		r, ok := canonical(ipRange)
		if !ok || r.Addr().Is4() != sub.Addr().Is4() || r.Bits() < sub.Bits() || !sub.Contains(r.Addr()) {
			return Subnet{}, invalid("invalid ip-range %s: parent subnet %s doesn't contain ip-range", ipRange, sub)
		}
		ns.IPRange = r
	}
	if gw.IsValid() {
		if gw.Zone() != "" || !sub.Contains(gw) {
			return Subnet{}, invalid("invalid gateway %s: parent subnet %s doesn't contain this address", gw, sub)
		}
		if gw == sub.Addr() || isBroadcast(sub, gw) {
			return Subnet{}, &wrapped{prefix: "invalid gateway " + gw.String() + ": ", err: ErrAddressInUse}
		}
		ns.Gateway = gw
		return ns, nil
	}
	g, ok := next(sub.Addr())
	if !ok || !sub.Contains(g) || isBroadcast(sub, g) {
		return Subnet{}, &wrapped{prefix: "subnet " + sub.String() + ": ", err: ErrNoAvailableIPs}
	}
	ns.Gateway = g
	return ns, nil
}

// RemoveNetwork forgets a network. It fails with errdefs.ErrConflict while
// addresses are still allocated in it, and errdefs.ErrNotFound for an
// unknown ID.
func (s State) RemoveNetwork(id string) (State, error) {
	n, ok := s.Networks[id]
	if !ok {
		return s, errNoNetwork(id)
	}
	for _, sub := range n.Subnets {
		if len(sub.Addresses) > 0 {
			return s, errorf(errdefs.ErrConflict, "network %s has active endpoints", id)
		}
	}
	nets := maps.Clone(s.Networks)
	delete(nets, id)
	return State{Networks: nets}, nil
}

// EndpointRequest asks for an endpoint's addresses on one network: one per
// family the network has.
type EndpointRequest struct {
	// Network is the network ID.
	Network string
	// Owner identifies the endpoint; asking again for the same owner
	// returns the addresses it already holds.
	Owner string
	// IPv4 and IPv6 are fixed addresses (--ip, --ip6); zero means any.
	IPv4, IPv6 netip.Addr
}

// Endpoint is the result of AllocateEndpoint.
type Endpoint struct {
	// IPv4 and IPv6 are the addresses with their subnet's prefix length;
	// zero for a family the network lacks.
	IPv4, IPv6 netip.Prefix
	// Gateway4 and Gateway6 are the gateways of the subnets they came from.
	Gateway4, Gateway6 netip.Addr
}

// AllocateEndpoint hands out an endpoint's addresses, all or nothing. A
// fixed address must lie in a user-configured subnet of its family (not
// necessarily in its ip-range) and be free; a dynamic one is the lowest
// free address of the first subnet of the family with room.
func (s State) AllocateEndpoint(req EndpointRequest) (State, Endpoint, error) {
	n, ok := s.Networks[req.Network]
	if !ok {
		return s, Endpoint{}, errNoNetwork(req.Network)
	}
	if req.Owner == "" {
		return s, Endpoint{}, invalid("endpoint owner is empty")
	}
	for _, fixed := range []netip.Addr{req.IPv4, req.IPv6} {
		if fixed.IsValid() && (fixed.Zone() != "" || fixed.Is4In6()) {
			return s, Endpoint{}, invalid("invalid IP address %s", fixed)
		}
	}
	n = n.clone()
	var ep Endpoint
	for _, fam := range []Family{IPv4, IPv6} {
		fixed := req.IPv4
		if fam == IPv6 {
			fixed = req.IPv6
		}
		if fixed.IsValid() && family(fixed) != fam {
			return s, Endpoint{}, invalid("invalid %s address %s", fam, fixed)
		}
		idx, addr, err := allocateFamily(&n, fam, req.Owner, fixed)
		if err != nil {
			return s, Endpoint{}, err
		}
		if idx < 0 {
			continue
		}
		sub := n.Subnets[idx]
		if fam == IPv4 {
			ep.IPv4, ep.Gateway4 = sub.Prefix(addr), sub.Gateway
		} else {
			ep.IPv6, ep.Gateway6 = sub.Prefix(addr), sub.Gateway
		}
	}
	return s.with(n), ep, nil
}

// allocateFamily allocates in n (a private copy) for one family. It returns
// the subnet index, or -1 when the network has no subnet of the family and
// nothing fixed was asked for.
func allocateFamily(n *Network, fam Family, owner string, fixed netip.Addr) (int, netip.Addr, error) {
	var idxs []int
	user := false
	for i, sub := range n.Subnets {
		if family(sub.Subnet.Addr()) == fam {
			idxs = append(idxs, i)
			user = user || sub.User
		}
	}
	// An owner asking again gets what it holds.
	for _, i := range idxs {
		for a, o := range n.Subnets[i].Addresses {
			if o != owner {
				continue
			}
			if fixed.IsValid() && fixed != a {
				return 0, netip.Addr{}, errorf(errdefs.ErrConflict, "endpoint %s already holds %s on network %s", owner, a, n.ID)
			}
			return i, a, nil
		}
	}
	if fixed.IsValid() {
		if len(idxs) > 0 && !user {
			return 0, netip.Addr{}, errStaticOnAutoSubnet()
		}
		for _, i := range idxs {
			sub := &n.Subnets[i]
			if !sub.User || !sub.Subnet.Contains(fixed) {
				continue
			}
			if !sub.free(fixed) {
				return 0, netip.Addr{}, ErrAddressInUse
			}
			sub.take(fixed, owner)
			return i, fixed, nil
		}
		return 0, netip.Addr{}, errOutsideSubnets(fixed)
	}
	if len(idxs) == 0 {
		return -1, netip.Addr{}, nil
	}
	for _, i := range idxs {
		sub := &n.Subnets[i]
		if a, ok := sub.lowestFree(); ok {
			sub.take(a, owner)
			return i, a, nil
		}
	}
	return 0, netip.Addr{}, ErrNoAvailableIPs
}

func (s *Subnet) take(a netip.Addr, owner string) {
	if s.Addresses == nil {
		s.Addresses = map[netip.Addr]string{}
	}
	s.Addresses[a] = owner
}

// Release frees one address of a network. Releasing a free address is not
// an error; an unknown network is errdefs.ErrNotFound.
func (s State) Release(network string, addr netip.Addr) (State, error) {
	n, ok := s.Networks[network]
	if !ok {
		return s, errNoNetwork(network)
	}
	for i, sub := range n.Subnets {
		if _, held := sub.Addresses[addr]; held {
			n = n.clone()
			delete(n.Subnets[i].Addresses, addr)
			return s.with(n), nil
		}
	}
	return s, nil
}

// ReleaseEndpoint frees every address owner holds on a network.
func (s State) ReleaseEndpoint(network, owner string) (State, error) {
	n, ok := s.Networks[network]
	if !ok {
		return s, errNoNetwork(network)
	}
	if !holds(n, owner) {
		return s, nil
	}
	return s.with(dropOwner(n, owner)), nil
}

// ReleaseOwner frees every address owner holds on any network; it is the
// clean-up after a failed start or a removed container.
func (s State) ReleaseOwner(owner string) State {
	out := s
	for _, n := range s.Networks {
		if holds(n, owner) {
			out = out.with(dropOwner(n, owner))
		}
	}
	return out
}

func holds(n Network, owner string) bool {
	for _, sub := range n.Subnets {
		for _, o := range sub.Addresses {
			if o == owner {
				return true
			}
		}
	}
	return false
}

func dropOwner(n Network, owner string) Network {
	n = n.clone()
	for i := range n.Subnets {
		maps.DeleteFunc(n.Subnets[i].Addresses, func(_ netip.Addr, o string) bool { return o == owner })
	}
	return n
}
