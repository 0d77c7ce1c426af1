package nft_test

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"berth/internal/network/nft"
	"berth/internal/testutil"
)

type lab struct {
	host, remote, a, b, i netns.NsHandle
	fw                    *nft.Firewall
	nets                  []nft.Network
	ctr                   nft.Container
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requireNetns(t)
	l := &lab{host: newNS(t), remote: newNS(t), a: newNS(t), b: newNS(t), i: newNS(t)}
	h := handle(t, l.host)
	wire(t, l.host, l.remote, "ext0", nil, "192.0.2.2/24", "")
	addAddr(t, h, mustLink(t, h, "ext0"), "192.0.2.1/24")
	wire(t, l.host, l.a, "va", bridge(t, h, "br-a", "10.88.1.1/24"), "10.88.1.2/24", "10.88.1.1")
	wire(t, l.host, l.b, "vb", bridge(t, h, "br-b", "10.88.2.1/24"), "10.88.2.2/24", "10.88.2.1")
	wire(t, l.host, l.i, "vi", bridge(t, h, "br-i", "10.88.3.1/24"), "10.88.3.2/24", "10.88.3.1")
	must(t, "sysctls", inNS(l.host, func() error {
		if err := nft.IPForward(false); err != nil {
			return err
		}
		return nft.RouteLocalnet("br-a")
	}))

	whoamiServer(t, l.remote, "tcp", ":7000")
	whoamiServer(t, l.a, "tcp", ":80")
	whoamiServer(t, l.a, "tcp", ":9001")
	whoamiServer(t, l.a, "udp", ":53")
	whoamiServer(t, l.b, "tcp", ":80")
	whoamiServer(t, l.i, "tcp", ":80")

	fw, err := nft.New(nft.Config{Table: "berth-test", NetNSFd: int(l.host)})
	must(t, "firewall", err)
	l.fw = fw
	l.nets = []nft.Network{
		{Name: "a", Bridge: "br-a", Subnets: []netip.Prefix{netip.MustParsePrefix("10.88.1.0/24")}},
		{Name: "b", Bridge: "br-b", Subnets: []netip.Prefix{netip.MustParsePrefix("10.88.2.0/24")}},
		{Name: "i", Bridge: "br-i", Subnets: []netip.Prefix{netip.MustParsePrefix("10.88.3.0/24")}, Internal: true},
	}
	ca := netip.MustParseAddr("10.88.1.2")
	l.ctr = nft.Container{ID: "ca", Network: "a", Ports: []nft.PortMapping{
		{Proto: "tcp", HostPort: 8080, ContainerIP: ca, ContainerPort: 80},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8081, ContainerIP: ca, ContainerPort: 80},
		{Proto: "tcp", HostPort: 9000, HostPortEnd: 9001, ContainerIP: ca, ContainerPort: 9000},
		{Proto: "udp", HostPort: 5353, ContainerIP: ca, ContainerPort: 53},
	}}
	return l
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	must(t, "link "+name, err)
	return l
}

// check is one connection: want is the client address the server must
// see, or "" when the connection must fail.
type check struct {
	from          netns.NsHandle
	network, addr string
	want          string
}

// expect runs checks concurrently, so that the drops, observable only as
// silence until the dial timeout, cost one timeout per call.
func expect(t *testing.T, checks ...check) {
	t.Helper()
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.want == "" {
				errs[i] = unreachable(c.from, c.network, c.addr)
				return
			}
			got, err := whoami(c.from, c.network, c.addr)
			switch {
			case err != nil:
				errs[i] = err
			case got != c.want:
				errs[i] = fmt.Errorf("server saw client %s; want %s", got, c.want)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s %s: %v", checks[i].network, checks[i].addr, err)
		}
	}
}

// TestFirewall_Datapath proves the rules with real traffic between
// namespaces: published ports from another host, from the host itself over
// its own address and 127.0.0.1, hairpin, UDP, ranges, outbound NAT,
// isolation between bridges, --internal, and removal and rebuild.
func TestFirewall_Datapath(t *testing.T) {
	l := newLab(t)
	ctx := testutil.Context(t)

	// Before any rule: no NAT, so nothing published and no way out; and
	// the bridges route to each other, so the drops later on are the
	// firewall's doing.
	expect(t,
		check{l.remote, "tcp", "192.0.2.1:8080", ""},
		check{l.a, "tcp", "192.0.2.2:7000", ""},
		check{l.b, "tcp", "10.88.1.2:80", "10.88.2.2"},
		check{l.i, "tcp", "10.88.1.2:80", "10.88.3.2"},
		check{l.a, "tcp", "192.0.2.1:8080", ""},
	)

	for _, n := range l.nets {
		must(t, "add network "+n.Name, l.fw.AddNetwork(ctx, n))
	}
	must(t, "add container", l.fw.AddContainer(ctx, l.ctr))

	published := func(t *testing.T) {
		t.Helper()
		expect(t,
			// Another host keeps its own address: DNAT without SNAT, as dockerd.
			check{l.remote, "tcp", "192.0.2.1:8080", "192.0.2.2"},
			check{l.remote, "tcp", "192.0.2.1:9001", "192.0.2.2"},
			check{l.remote, "udp", "192.0.2.1:5353", "192.0.2.2"},
			// The host itself, over its own addresses.
			check{l.host, "tcp", "192.0.2.1:8080", "192.0.2.1"},
			check{l.host, "tcp", "10.88.1.1:8080", "10.88.1.1"},
			// The host over localhost: masqueraded to the bridge address.
			check{l.host, "tcp", "127.0.0.1:8080", "10.88.1.1"},
			check{l.host, "tcp", "127.0.0.1:8081", "10.88.1.1"},
			// Hairpin: the container reaches its own published port.
			check{l.a, "tcp", "192.0.2.1:8080", "10.88.1.1"},
			// Outbound NAT: the remote host has no route back to 10.88/16.
			check{l.a, "tcp", "192.0.2.2:7000", "192.0.2.1"},
			check{l.b, "tcp", "192.0.2.2:7000", "192.0.2.1"},
			// 8081 is published on 127.0.0.1 only.
			check{l.remote, "tcp", "192.0.2.1:8081", ""},
		)
	}
	t.Run("published ports and nat", published)

	isolation := func(t *testing.T) {
		t.Helper()
		expect(t,
			check{l.b, "tcp", "10.88.1.2:80", ""},
			check{l.a, "tcp", "10.88.2.2:80", ""},
			check{l.a, "tcp", "10.88.3.2:80", ""},
			// The host reaches every bridge, the internal one included.
			check{l.host, "tcp", "10.88.1.2:80", "10.88.1.1"},
			check{l.host, "tcp", "10.88.3.2:80", "10.88.3.1"},
			// A published port is public, also to other networks (which
			// leave their bridge masqueraded to br-a's address).
			check{l.b, "tcp", "192.0.2.1:8080", "10.88.1.1"},
			// --internal: no way out.
			check{l.i, "tcp", "192.0.2.2:7000", ""},
			check{l.i, "tcp", "10.88.1.2:80", ""},
		)
	}
	t.Run("isolation and internal", isolation)

	t.Run("replacing is idempotent", func(t *testing.T) {
		before := countRules(t, l.fw)
		must(t, "add network again", l.fw.AddNetwork(ctx, l.nets[0]))
		must(t, "add container again", l.fw.AddContainer(ctx, l.ctr))
		must(t, "ensure", l.fw.Ensure(ctx))
		if after := countRules(t, l.fw); !equalCounts(before, after) {
			t.Fatalf("rules changed on re-adding: %v -> %v", before, after)
		}
	})

	t.Run("remove container", func(t *testing.T) {
		must(t, "remove container", l.fw.RemoveContainer(ctx, "ca"))
		if n := countRules(t, l.fw)[nft.Tag{Network: "a", Container: "ca"}]; n != 0 {
			t.Fatalf("%d rules of the container left", n)
		}
		expect(t,
			check{l.remote, "tcp", "192.0.2.1:8080", ""},
			check{l.host, "tcp", "127.0.0.1:8080", ""},
			// The network's own rules stay.
			check{l.a, "tcp", "192.0.2.2:7000", "192.0.2.1"},
		)
	})

	t.Run("rebuild", func(t *testing.T) {
		want := nft.Ruleset{Networks: l.nets, Containers: []nft.Container{l.ctr}}
		must(t, "rebuild", l.fw.Rebuild(ctx, want))
		published(t)
		isolation(t)
		before := countRules(t, l.fw)
		must(t, "rebuild again", l.fw.Rebuild(ctx, want))
		if after := countRules(t, l.fw); !equalCounts(before, after) {
			t.Fatalf("rules changed on rebuilding: %v -> %v", before, after)
		}
	})

	t.Run("remove network", func(t *testing.T) {
		must(t, "remove network", l.fw.RemoveNetwork(ctx, "a"))
		for tag := range countRules(t, l.fw) {
			if tag.Network == "a" {
				t.Fatalf("rule %v left", tag)
			}
		}
		expect(t,
			check{l.a, "tcp", "192.0.2.2:7000", ""},      // no more masquerade
			check{l.remote, "tcp", "192.0.2.1:8080", ""}, // its container's ports went too
			check{l.b, "tcp", "192.0.2.2:7000", "192.0.2.1"},
		)
	})

	t.Run("remove table", func(t *testing.T) {
		must(t, "remove", l.fw.Remove(ctx))
		must(t, "remove twice", l.fw.Remove(ctx))
		if n := len(countRules(t, l.fw)); n != 0 {
			t.Fatalf("%d rule groups left", n)
		}
		expect(t, check{l.b, "tcp", "192.0.2.2:7000", ""})
	})
}

func countRules(t *testing.T, fw *nft.Firewall) map[nft.Tag]int {
	t.Helper()
	rs, err := fw.Rules(t.Context())
	must(t, "list rules", err)
	out := map[nft.Tag]int{}
	for _, r := range rs {
		out[r.Tag]++
	}
	return out
}

func equalCounts(a, b map[nft.Tag]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestFirewall_OwnTableOnly checks that berth touches nothing but its own
// table: a foreign inet table, an "ip" table of the same name and a second
// daemon's table survive every operation, and two daemons' tables coexist.
func TestFirewall_OwnTableOnly(t *testing.T) {
	requireNetns(t)
	ns := newNS(t)
	ctx := testutil.Context(t)

	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	must(t, "nft conn", err)
	foreign := []*nftables.Table{
		{Name: "other", Family: nftables.TableFamilyINet},
		{Name: "berth-1", Family: nftables.TableFamilyIPv4},
	}
	for _, ft := range foreign {
		c.AddTable(ft)
		ch := c.AddChain(&nftables.Chain{Name: "fwd", Table: ft, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter})
		c.AddRule(&nftables.Rule{Table: ft, Chain: ch, Exprs: []expr.Any{&expr.Counter{}}})
	}
	must(t, "foreign tables", c.Flush())

	one, err := nft.New(nft.Config{Table: "berth-1", NetNSFd: int(ns)})
	must(t, "firewall 1", err)
	two, err := nft.New(nft.Config{Table: "berth-2", NetNSFd: int(ns)})
	must(t, "firewall 2", err)
	n := nft.Network{Name: "n", Bridge: "br-n", Subnets: []netip.Prefix{netip.MustParsePrefix("10.77.0.0/24")}}
	ctr := nft.Container{ID: "c", Network: "n", Ports: []nft.PortMapping{{Proto: "tcp", HostPort: 80, ContainerIP: netip.MustParseAddr("10.77.0.2"), ContainerPort: 80}}}
	for _, fw := range []*nft.Firewall{one, two} {
		must(t, "ensure", fw.Ensure(ctx))
		must(t, "ensure twice", fw.Ensure(ctx))
		must(t, "add network", fw.AddNetwork(ctx, n))
		must(t, "add container", fw.AddContainer(ctx, ctr))
	}
	must(t, "rebuild 1", one.Rebuild(ctx, nft.Ruleset{Networks: []nft.Network{n}}))
	if got := countRules(t, two)[nft.Tag{Network: "n", Container: "c"}]; got != 1 {
		t.Fatalf("the second daemon's container rule count is %d after the first rebuilt; want 1", got)
	}
	if got := countRules(t, one)[nft.Tag{Static: true}]; got != 2 {
		t.Fatalf("static rules after ensure, ensure, add, add, rebuild: %d; want 2", got)
	}
	must(t, "remove 1", one.Remove(ctx))
	if got := len(countRules(t, two)); got == 0 {
		t.Fatal("removing one daemon's table removed the other's rules")
	}
	must(t, "remove 2", two.Remove(ctx))

	tables, err := c.ListTables()
	must(t, "list tables", err)
	left := map[string]bool{}
	for _, tb := range tables {
		left[tb.Name+"/"+string(rune('0'+tb.Family))] = true
		if tb.Family == nftables.TableFamilyINet && (tb.Name == "berth-1" || tb.Name == "berth-2") {
			t.Errorf("table inet %s left behind", tb.Name)
		}
	}
	for _, ft := range foreign {
		if !left[ft.Name+"/"+string(rune('0'+ft.Family))] {
			t.Errorf("foreign table %s (family %d) was removed", ft.Name, ft.Family)
			continue
		}
		chains, err := c.ListChainsOfTableFamily(ft.Family)
		must(t, "list chains", err)
		for _, ch := range chains {
			if ch.Table.Name != ft.Name {
				continue
			}
			rules, err := c.GetRules(ft, ch)
			must(t, "list rules", err)
			if len(rules) != 1 {
				t.Errorf("foreign table %s: %d rules; want 1", ft.Name, len(rules))
			}
		}
	}
}
