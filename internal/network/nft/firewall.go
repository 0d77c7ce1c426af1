package nft

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"

	"berth/internal/log"
)

// Config configures a Firewall.
type Config struct {
	// Table is the name of berth's table in the inet family. Two daemons
	// on one host need different names ("berth", "berth-test1", ...).
	Table string
	// NetNSFd is an open network-namespace file descriptor to work in; 0
	// means the namespace of the calling thread (the host's, for berthd).
	NetNSFd int
}

// DefaultConfig returns the daemon's default: table "inet berth" in the
// host's namespace.
func DefaultConfig() Config { return Config{Table: "berth"} }

// Validate checks c without changing it.
func (c Config) Validate() error {
	if err := validName("table name", c.Table); err != nil {
		return err
	}
	if len(c.Table) > 31 { // NFT_TABLE_MAXNAMELEN - 1
		return fmt.Errorf("nft: table name %q is longer than 31 bytes: %w", c.Table, errdefs.ErrInvalidArgument)
	}
	if c.NetNSFd < 0 {
		return fmt.Errorf("nft: invalid network namespace fd %d: %w", c.NetNSFd, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Firewall manages berth's nftables table. All its rules live in the one
// table "inet <Config.Table>"; it never reads, changes or deletes anything
// outside it. It is safe for concurrent use: operations are serialised, and
// each one reaches the kernel as a single netlink batch, which nftables
// applies atomically.
type Firewall struct {
	cfg Config

	mu sync.Mutex
}

// New returns a Firewall for cfg. It does not touch the kernel.
func New(cfg Config) (*Firewall, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Firewall{cfg: cfg}, nil
}

func (f *Firewall) table() *nftables.Table {
	return &nftables.Table{Name: f.cfg.Table, Family: nftables.TableFamilyINet}
}

// chains returns the table's chains: four base chains at dockerd's
// priorities and two regular ones.
func (f *Firewall) chains() map[string]*nftables.Chain {
	t := f.table()
	accept := nftables.ChainPolicyAccept
	return map[string]*nftables.Chain{
		chainPrerouting:  {Name: chainPrerouting, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest},
		chainOutput:      {Name: chainOutput, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest},
		chainPostrouting: {Name: chainPostrouting, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource},
		chainForward:     {Name: chainForward, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept},
		chainPorts:       {Name: chainPorts, Table: t},
		chainIsolation:   {Name: chainIsolation, Table: t},
	}
}

// conn opens one netlink socket for one operation.
func (f *Firewall) conn() (*nftables.Conn, func(), error) {
	c, err := nftables.New(nftables.WithNetNSFd(f.cfg.NetNSFd), nftables.AsLasting())
	if err != nil {
		return nil, nil, fmt.Errorf("nft: open netlink: %w", err)
	}
	return c, func() { _ = c.CloseLasting() }, nil
}

func (f *Firewall) exists(c *nftables.Conn) (bool, error) {
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return false, fmt.Errorf("nft: list tables: %w", err)
	}
	return slices.ContainsFunc(ts, func(t *nftables.Table) bool { return t.Name == f.cfg.Table }), nil
}

// addSkeleton queues the table and its chains. Adding what exists is a
// no-op in nftables, so this is idempotent.
func (f *Firewall) addSkeleton(c *nftables.Conn) map[string]*nftables.Chain {
	c.AddTable(f.table())
	chains := f.chains()
	for _, name := range chainNames {
		c.AddChain(chains[name])
	}
	return chains
}

func addRules(c *nftables.Conn, chains map[string]*nftables.Chain, rs []rule) {
	for _, r := range rs {
		ch := chains[r.chain]
		c.AddRule(&nftables.Rule{Table: ch.Table, Chain: ch, Exprs: r.exprs, UserData: r.tag.userData()})
	}
}

// replace deletes the rules whose tag matches drop and adds rs, creating
// the table and chains when missing, all in one batch.
func (f *Firewall) replace(ctx context.Context, drop func(Tag) bool, rs []rule) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return err
	}
	defer done()
	ok, err := f.exists(c)
	if err != nil {
		return err
	}
	if !ok && rs == nil {
		return nil // nothing to delete, nothing to add
	}
	var stale []*nftables.Rule
	if ok {
		if stale, err = f.rules(c, drop); err != nil {
			return err
		}
	}
	chains := f.addSkeleton(c)
	for _, r := range stale {
		if err := c.DelRule(r); err != nil {
			return fmt.Errorf("nft: %w", err)
		}
	}
	addRules(c, chains, rs)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft: table %s: %w", f.cfg.Table, err)
	}
	log.From(ctx).Debug("nftables rules replaced", "component", "nft", "removed", len(stale), "added", len(rs))
	return nil
}

// rules lists the table's rules whose tag satisfies keep.
func (f *Firewall) rules(c *nftables.Conn, keep func(Tag) bool) ([]*nftables.Rule, error) {
	// Only chains that exist are listed: one deleted by hand is simply
	// recreated by addSkeleton.
	present, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("nft: list chains: %w", err)
	}
	var out []*nftables.Rule
	chains := f.chains()
	for _, name := range chainNames {
		if !slices.ContainsFunc(present, func(ch *nftables.Chain) bool {
			return ch.Table != nil && ch.Table.Name == f.cfg.Table && ch.Name == name
		}) {
			continue
		}
		rs, err := c.GetRules(f.table(), chains[name])
		if err != nil {
			return nil, fmt.Errorf("nft: list rules of chain %s: %w", name, err)
		}
		for _, r := range rs {
			if t, ok := parseTag(r.UserData); ok && keep(t) {
				r.Table, r.Chain = f.table(), chains[name]
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Ensure creates the table, its chains and its static rules, or repairs
// them. It is idempotent and leaves network and container rules alone.
func (f *Firewall) Ensure(ctx context.Context) error {
	return f.replace(ctx, func(t Tag) bool { return t.Static }, staticRules())
}

// Remove deletes the whole table, and with it every berth rule. Removing a
// missing table is not an error.
func (f *Firewall) Remove(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return err
	}
	defer done()
	ok, err := f.exists(c)
	if err != nil || !ok {
		return err
	}
	c.DelTable(f.table())
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft: delete table %s: %w", f.cfg.Table, err)
	}
	return nil
}

// AddNetwork installs (or replaces) a network's NAT and isolation rules.
// The bridge need not exist yet: rules match interface names.
func (f *Firewall) AddNetwork(ctx context.Context, n Network) error {
	if err := n.Validate(); err != nil {
		return err
	}
	// The static rules are replaced too, so that AddNetwork alone yields a
	// working table.
	return f.replace(ctx, func(t Tag) bool { return t.Static || t.Network == n.Name && t.Container == "" }, append(staticRules(), networkRules(n)...))
}

// RemoveNetwork deletes every rule of a network, its containers' published
// ports included. A network without rules is not an error.
func (f *Firewall) RemoveNetwork(ctx context.Context, name string) error {
	if err := validName("network name", name); err != nil {
		return err
	}
	return f.replace(ctx, func(t Tag) bool { return t.Network == name }, nil)
}

// AddContainer installs (or replaces) a container's published ports.
func (f *Firewall) AddContainer(ctx context.Context, c Container) error {
	if err := c.Validate(); err != nil {
		return err
	}
	return f.replace(ctx, func(t Tag) bool { return t.Static || t.Container == c.ID }, append(staticRules(), containerRules(c)...))
}

// RemoveContainer deletes every rule of a container. A container without
// rules is not an error.
func (f *Firewall) RemoveContainer(ctx context.Context, id string) error {
	if err := validName("container ID", id); err != nil {
		return err
	}
	return f.replace(ctx, func(t Tag) bool { return t.Container == id }, nil)
}

// Rebuild makes the table hold exactly r, for a daemon that restarts. In
// one atomic batch it creates the table (so that the delete cannot fail),
// deletes it, and adds it back with every rule of r: no packet ever sees a
// half-built table.
func (f *Firewall) Rebuild(ctx context.Context, r Ruleset) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return err
	}
	defer done()
	c.AddTable(f.table())
	c.DelTable(f.table())
	chains := f.addSkeleton(c)
	rs := plan(r)
	addRules(c, chains, rs)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nft: rebuild table %s: %w", f.cfg.Table, err)
	}
	log.From(ctx).Info("nftables table rebuilt", "component", "nft", "networks", len(r.Networks), "containers", len(r.Containers), "rules", len(rs))
	return nil
}

// RuleInfo describes one rule of the table.
type RuleInfo struct {
	Chain string
	Tag   Tag
}

// Rules lists the tagged rules of the table, chain by chain; an absent
// table has none.
func (f *Firewall) Rules(ctx context.Context) ([]RuleInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, done, err := f.conn()
	if err != nil {
		return nil, err
	}
	defer done()
	ok, err := f.exists(c)
	if err != nil || !ok {
		return nil, err
	}
	rs, err := f.rules(c, func(Tag) bool { return true })
	if err != nil {
		return nil, err
	}
	out := make([]RuleInfo, 0, len(rs))
	for _, r := range rs {
		t, _ := parseTag(r.UserData)
		out = append(out, RuleInfo{Chain: r.Chain.Name, Tag: t})
	}
	return out, nil
}
