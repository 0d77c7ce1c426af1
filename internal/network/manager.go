package network

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	"berth/internal/filters"
	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/network/bridge"
	"berth/internal/network/ipam"
	"berth/internal/network/nft"
)

// Drivers berth knows.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Config configures the network manager (dockerd's flags in brackets).
type Config struct {
	// ExecRoot holds the sandboxes' namespace files.
	ExecRoot string
	// DefaultBridge is the default network's device [--bridge]; "none"
	// disables the default network.
	DefaultBridge string
	// IPAM holds [--bip], [--fixed-cidr] and [--default-address-pool].
	IPAM ipam.Config
	// IPForward turns on the host's IPv4 forwarding [--ip-forward].
	IPForward bool
	// DNS are the daemon's default --dns servers.
	DNS []netip.Addr
	// Table is berth's nftables table.
	Table string
	// Now returns the current time.
	Now func() time.Time
}

// DefaultConfig returns defaults for a daemon whose exec root is execRoot:
// the default daemon gets bridge berth0 and table "berth"; any other gets
// names derived from its exec root, so daemons run side by side.
func DefaultConfig(execRoot string) Config {
	c := Config{ExecRoot: execRoot, DefaultBridge: "berth0", IPAM: ipam.DefaultConfig(), IPForward: true, Table: "berth", Now: time.Now}
	if execRoot != "/run/berth" {
		h := sha256.Sum256([]byte(execRoot))
		suffix := hex.EncodeToString(h[:4])
		c.DefaultBridge = "bb" + suffix
		c.Table = "berth-" + suffix
	}
	return c
}

// Record is a network as persisted.
type Record struct {
	ID         string
	Name       string
	Driver     string
	Bridge     string `json:",omitempty"`
	Created    time.Time
	Internal   bool
	IPv6       bool
	Labels     map[string]string
	Options    map[string]string
	IPAM       []network.IPAMConfig
	Predefined bool `json:",omitempty"`
}

// Manager owns networks and sandboxes.
type Manager struct {
	cfg   Config
	db    *metadata.DB
	alloc *ipam.Allocator
	fw    *nft.Firewall
	pub   Publisher

	mu        sync.Mutex
	nets      map[string]*Record // by ID
	sandboxes map[string]*Sandbox
	ports     portSet
}

// Publisher receives network events.
type Publisher interface {
	Publish(typ events.Type, action events.Action, actor events.Actor)
}

// ipamStore keeps the IPAM state in the networks bucket.
type ipamStore struct{ db *metadata.DB }

func (s ipamStore) Load(ctx context.Context) (ipam.State, error) {
	var st ipam.State
	err := s.db.View(func(tx *bolt.Tx) error {
		err := metadata.GetJSON(tx, metadata.BucketNetworks, "ipam", &st)
		if errdefs.IsNotFound(err) {
			return nil
		}
		return err
	})
	return st, err
}

func (s ipamStore) Save(ctx context.Context, st ipam.State) error {
	return s.db.Update(func(tx *bolt.Tx) error { return metadata.PutJSON(tx, metadata.BucketNetworks, "ipam", st) })
}

// New opens the manager: it loads networks and creates the predefined ones.
// Call Restore with the running containers before serving.
func New(ctx context.Context, cfg Config, db *metadata.DB, pub Publisher) (*Manager, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	alloc, err := ipam.New(ctx, cfg.IPAM, ipamStore{db})
	if err != nil {
		return nil, err
	}
	fw, err := nft.New(nft.Config{Table: cfg.Table})
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, db: db, alloc: alloc, fw: fw, pub: pub, nets: map[string]*Record{}, sandboxes: map[string]*Sandbox{}, ports: portSet{}}
	if err := os.MkdirAll(filepath.Join(cfg.ExecRoot, "netns"), 0o711); err != nil {
		return nil, err
	}
	err = db.View(func(tx *bolt.Tx) error {
		return metadata.ForEach(tx, metadata.BucketNetworks, func(k string, raw []byte) error {
			if k == "ipam" {
				return nil
			}
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				log.From(ctx).Warn("skip unreadable network record", "network", k, "err", err)
				return nil
			}
			m.nets[r.ID] = &r
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load networks: %w", err)
	}
	if err := m.fw.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	if cfg.IPForward {
		if err := bridge.SetIPForward(ctx, true); err != nil {
			log.From(ctx).Warn("enable IP forwarding", "err", err)
		}
	}
	if err := m.ensurePredefined(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (m *Manager) persist(r *Record) error {
	return m.db.Update(func(tx *bolt.Tx) error { return metadata.PutJSON(tx, metadata.BucketNetworks, r.ID, r) })
}

func (m *Manager) byName(name string) *Record {
	for _, r := range m.nets {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ensurePredefined creates bridge, host and none when missing, and brings
// up the devices of every bridge network.
func (m *Manager) ensurePredefined(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range []struct{ name, driver string }{{"host", DriverHost}, {"none", DriverNull}} {
		if m.byName(p.name) == nil {
			r := &Record{ID: newID(), Name: p.name, Driver: p.driver, Created: m.cfg.Now().UTC(), Predefined: true, Labels: map[string]string{}, Options: map[string]string{}}
			if err := m.persist(r); err != nil {
				return err
			}
			m.nets[r.ID] = r
		}
	}
	if m.cfg.DefaultBridge != "none" && m.byName("bridge") == nil {
		id := newID()
		routes, _ := bridge.HostRoutes(ctx)
		n, err := m.alloc.CreateNetwork(ctx, m.cfg.IPAM.DefaultBridge(id, routes))
		if err != nil {
			return fmt.Errorf("default bridge network: %w", err)
		}
		r := &Record{ID: id, Name: "bridge", Driver: DriverBridge, Bridge: m.cfg.DefaultBridge, Created: m.cfg.Now().UTC(), Predefined: true,
			Labels: map[string]string{}, Options: map[string]string{
				"com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true", "com.docker.network.bridge.name": m.cfg.DefaultBridge,
				"com.docker.network.driver.mtu": "1500"}}
		for _, s := range n.Subnets {
			r.IPAM = append(r.IPAM, network.IPAMConfig{Subnet: s.Subnet, IPRange: s.IPRange, Gateway: s.Gateway})
		}
		if err := m.persist(r); err != nil {
			return err
		}
		m.nets[r.ID] = r
	}
	for _, r := range m.nets {
		if r.Driver == DriverBridge {
			if err := m.upBridge(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// upBridge creates the bridge device with its gateways and its NAT rules.
func (m *Manager) upBridge(ctx context.Context, r *Record) error {
	var gws []netip.Prefix
	var subnets []netip.Prefix
	for _, c := range r.IPAM {
		if c.Gateway.IsValid() {
			gws = append(gws, netip.PrefixFrom(c.Gateway, c.Subnet.Bits()))
		}
		subnets = append(subnets, c.Subnet)
	}
	if err := bridge.EnsureBridge(ctx, r.Bridge, gws, 1500, bridge.WithRouteLocalnet()); err != nil {
		return fmt.Errorf("bridge %s of network %s: %w", r.Bridge, r.Name, err)
	}
	return m.fw.AddNetwork(ctx, nft.Network{Name: r.ID, Bridge: r.Bridge, Subnets: subnets, Internal: r.Internal})
}

// find resolves a network by full ID, name or unique ID prefix, as Docker.
// The caller holds m.mu.
func (m *Manager) find(ref string) (*Record, error) {
	if r, ok := m.nets[ref]; ok {
		return r, nil
	}
	if r := m.byName(ref); r != nil {
		return r, nil
	}
	var found *Record
	for id, r := range m.nets {
		if strings.HasPrefix(id, ref) && ref != "" {
			if found != nil {
				return nil, errorf(errdefs.ErrInvalidArgument, "network %s is ambiguous (%d matches found on name)", ref, 2)
			}
			found = r
		}
	}
	if found == nil {
		return nil, errorf(errdefs.ErrNotFound, "network %s not found", ref)
	}
	return found, nil
}

// Create makes a user-defined network.
func (m *Manager) Create(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	if req.Name == "" {
		return network.CreateResponse{}, errorf(errdefs.ErrInvalidArgument, "network name must not be empty")
	}
	driver := req.Driver
	if driver == "" {
		driver = DriverBridge
	}
	if driver != DriverBridge {
		if driver == DriverHost || driver == DriverNull {
			return network.CreateResponse{}, errorf(errdefs.ErrPermissionDenied, "only one instance of \"%s\" network is allowed", driver)
		}
		return network.CreateResponse{}, errorf(errdefs.ErrNotFound, "plugin \"%s\" not found", driver)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byName(req.Name) != nil {
		return network.CreateResponse{}, errorf(errdefs.ErrConflict, "network with name %s already exists", req.Name)
	}
	id := newID()
	var specs []ipam.SubnetSpec
	if req.IPAM != nil {
		for _, c := range req.IPAM.Config {
			sp := ipam.SubnetSpec{}
			if c.Subnet.IsValid() {
				sp.Subnet = c.Subnet.String()
			}
			if c.IPRange.IsValid() {
				sp.IPRange = c.IPRange.String()
			}
			if c.Gateway.IsValid() {
				sp.Gateway = c.Gateway.String()
			}
			specs = append(specs, sp)
		}
	}
	subs, err := ipam.ParseSubnets(specs)
	if err != nil {
		return network.CreateResponse{}, err
	}
	ipv6 := req.EnableIPv6 != nil && *req.EnableIPv6
	routes, _ := bridge.HostRoutes(ctx)
	n, err := m.alloc.CreateNetwork(ctx, ipam.NetworkRequest{ID: id, Subnets: subs, IPv6: ipv6, Exclude: routes})
	if err != nil {
		return network.CreateResponse{}, err
	}
	dev := req.Options["com.docker.network.bridge.name"]
	if dev == "" {
		dev = bridge.Name(id)
	}
	if !bridge.ValidIfName(dev) {
		_ = m.alloc.RemoveNetwork(ctx, id)
		return network.CreateResponse{}, errorf(errdefs.ErrInvalidArgument, "invalid bridge name %q", dev)
	}
	for _, o := range m.nets {
		if o.Bridge == dev {
			_ = m.alloc.RemoveNetwork(ctx, id)
			return network.CreateResponse{}, errorf(errdefs.ErrConflict, "bridge name %s is already used by network %s", dev, o.Name)
		}
	}
	r := &Record{ID: id, Name: req.Name, Driver: DriverBridge, Bridge: dev, Created: m.cfg.Now().UTC(), Internal: req.Internal, IPv6: ipv6,
		Labels: nonNil(req.Labels), Options: nonNil(req.Options)}
	for _, s := range n.Subnets {
		r.IPAM = append(r.IPAM, network.IPAMConfig{Subnet: s.Subnet, IPRange: s.IPRange, Gateway: s.Gateway})
	}
	if err := m.upBridge(ctx, r); err != nil {
		_ = bridge.DeleteBridge(context.WithoutCancel(ctx), dev)
		_ = m.alloc.RemoveNetwork(context.WithoutCancel(ctx), id)
		return network.CreateResponse{}, err
	}
	if err := m.persist(r); err != nil {
		return network.CreateResponse{}, err
	}
	m.nets[id] = r
	m.event(events.ActionCreate, r, nil)
	return network.CreateResponse{ID: id, Warning: ""}, nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func (m *Manager) event(action events.Action, r *Record, extra map[string]string) {
	if m.pub == nil {
		return
	}
	attrs := map[string]string{"name": r.Name, "type": r.Driver}
	for k, v := range extra {
		attrs[k] = v
	}
	m.pub.Publish(events.NetworkEventType, action, events.Actor{ID: r.ID, Attributes: attrs})
}

// users lists the containers with an endpoint on network id. The caller holds m.mu.
func (m *Manager) users(id string) []string {
	var out []string
	for cid, sb := range m.sandboxes {
		if _, ok := sb.Endpoints[id]; ok {
			out = append(out, cid)
		}
	}
	sort.Strings(out)
	return out
}

// Remove deletes a user-defined network that no container uses.
func (m *Manager) Remove(ctx context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(ref)
	if err != nil {
		return err
	}
	return m.removeLocked(ctx, r)
}

func (m *Manager) removeLocked(ctx context.Context, r *Record) error {
	if r.Predefined {
		return errorf(errdefs.ErrPermissionDenied, "%s is a pre-defined network and cannot be removed", r.Name)
	}
	if u := m.users(r.ID); len(u) > 0 {
		return errorf(errdefs.ErrConflict, "error while removing network: network %s has active endpoints (name:%q id:%q)", r.Name, r.Name, r.ID[:12])
	}
	if err := m.fw.RemoveNetwork(ctx, r.ID); err != nil {
		return err
	}
	if err := bridge.DeleteBridge(ctx, r.Bridge); err != nil {
		return err
	}
	if err := m.alloc.RemoveNetwork(ctx, r.ID); err != nil {
		return err
	}
	if err := m.db.Update(func(tx *bolt.Tx) error { return metadata.Delete(tx, metadata.BucketNetworks, r.ID) }); err != nil {
		return err
	}
	delete(m.nets, r.ID)
	m.event(events.ActionDestroy, r, nil)
	return nil
}

func (m *Manager) summary(r *Record) network.Summary {
	ipamCfg := append([]network.IPAMConfig{}, r.IPAM...)
	return network.Summary{Network: network.Network{
		Name: r.Name, ID: r.ID, Created: r.Created, Scope: "local", Driver: r.Driver, EnableIPv4: r.Driver == DriverBridge, EnableIPv6: r.IPv6,
		IPAM: network.IPAM{Driver: "default", Options: map[string]string{}, Config: ipamCfg}, Internal: r.Internal,
		Options: r.Options, Labels: r.Labels,
	}}
}

var listFilters = map[string]bool{"dangling": true, "driver": true, "id": true, "label": true, "name": true, "scope": true, "type": true}

// List returns networks as GET /networks does.
func (m *Manager) List(ctx context.Context, f filters.Args) ([]network.Summary, error) {
	if err := f.Validate(listFilters); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []network.Summary{}
	for _, r := range m.nets {
		if !m.matches(f, r) {
			continue
		}
		out = append(out, m.summary(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *Manager) matches(f filters.Args, r *Record) bool {
	if !f.Match("name", r.Name) || !f.ExactMatch("driver", r.Driver) || !f.MatchLabels("label", r.Labels) {
		return false
	}
	if ids := f.Get("id"); len(ids) > 0 && !slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(r.ID, id) }) {
		return false
	}
	if f.Contains("type") {
		typ := "custom"
		if r.Predefined {
			typ = "builtin"
		}
		if !f.ExactMatch("type", typ) {
			return false
		}
	}
	if f.Contains("scope") && !f.ExactMatch("scope", "local") {
		return false
	}
	if f.Contains("dangling") {
		d, _ := f.GetBoolOrDefault("dangling", false)
		unused := len(m.users(r.ID)) == 0 && !r.Predefined
		if d != unused {
			return false
		}
	}
	return true
}

// Inspect returns one network with its containers.
func (m *Manager) Inspect(ctx context.Context, ref string) (network.Inspect, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(ref)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: m.summary(r).Network, Containers: map[string]network.EndpointResource{}}
	for cid, sb := range m.sandboxes {
		ep, ok := sb.Endpoints[r.ID]
		if !ok {
			continue
		}
		mac, _ := parseMAC(ep.MAC)
		out.Containers[cid] = network.EndpointResource{Name: sb.Name, EndpointID: ep.ID, MacAddress: network.HardwareAddr(mac), IPv4Address: ep.IPv4, IPv6Address: ep.IPv6}
	}
	return out, nil
}

// Prune removes unused user-defined networks (filters until, label).
func (m *Manager) Prune(ctx context.Context, f filters.Args, dryRun bool) (network.PruneReport, error) {
	if err := f.Validate(map[string]bool{"until": true, "label": true, "label!": true}); err != nil {
		return network.PruneReport{}, err
	}
	until, err := f.GetTime("until", m.cfg.Now())
	if err != nil {
		return network.PruneReport{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := network.PruneReport{NetworksDeleted: []string{}}
	for _, r := range m.nets {
		if r.Predefined || len(m.users(r.ID)) > 0 || !f.MatchLabels("label", r.Labels) {
			continue
		}
		if !until.IsZero() && !r.Created.Before(until) {
			continue
		}
		if !dryRun {
			if err := m.removeLocked(ctx, r); err != nil {
				log.From(ctx).Warn("prune network", "network", r.Name, "err", err)
				continue
			}
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, r.Name)
	}
	sort.Strings(rep.NetworksDeleted)
	return rep, nil
}

// Close removes nothing: bridges and rules stay for the running containers.
func (m *Manager) Close() {}
