package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	bolt "go.etcd.io/bbolt"

	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/network/bridge"
	"berth/internal/network/dns"
	"berth/internal/network/ipam"
	"berth/internal/network/netns"
	"berth/internal/network/nft"
)

// Endpoint is a container's attachment to one network.
type Endpoint struct {
	ID          string
	NetworkID   string
	NetworkName string
	IfName      string
	HostIf      string
	MAC         string
	IPv4, IPv6  netip.Prefix
	Gateway4    netip.Addr
	Gateway6    netip.Addr
	Aliases     []string
}

// Sandbox is a container's network namespace and what is attached to it.
type Sandbox struct {
	ContainerID string
	Name        string
	Hostname    string
	NSPath      string
	// Primary is the ID of the network whose address published ports go to.
	Primary   string
	Endpoints map[string]*Endpoint // by network ID
	Ports     []nft.PortMapping
	// Upstreams of the embedded DNS, when it serves this container.
	Upstreams []dns.Upstream `json:",omitempty"`
	NdotsSet  bool           `json:",omitempty"`

	dnsStop func()
}

// SetupRequest is what a container asks of the network at start.
type SetupRequest struct {
	ContainerID string
	Name        string
	Hostname    string
	Domainname  string
	// Network is the container's network mode: "bridge", "default" or a
	// user-defined network's name or ID.
	Network      string
	Endpoints    map[string]*network.EndpointSettings
	PortBindings network.PortMap
	ExposedPorts network.PortSet
	PublishAll   bool
	MacAddress   string
	DNS          []netip.Addr
	DNSSearch    []string
	DNSOptions   []string
	ExtraHosts   []string
}

// SetupResult is what the container records and mounts.
type SetupResult struct {
	NSPath     string
	Networks   map[string]*network.EndpointSettings // by network name
	Ports      network.PortMap
	Hosts      []byte
	ResolvConf []byte
}

// Setup creates the container's namespace, attaches it to its networks,
// publishes its ports and starts its DNS. Nothing is left on error.
func (m *Manager) Setup(ctx context.Context, req SetupRequest) (res SetupResult, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	primary := req.Network
	if primary == "" || primary == "default" {
		primary = "bridge"
	}
	names := []string{primary}
	for n := range req.Endpoints {
		if n != primary && n != req.Network {
			names = append(names, n)
		}
	}
	sort.Strings(names[1:])
	var recs []*Record
	for _, n := range names {
		r, err := m.find(n)
		if err != nil {
			return res, err
		}
		if r.Driver != DriverBridge {
			return res, errorf(errdefs.ErrInvalidArgument, "container cannot be connected to network %s of driver %s together with others", r.Name, r.Driver)
		}
		recs = append(recs, r)
	}
	sb := &Sandbox{ContainerID: req.ContainerID, Name: req.Name, Hostname: req.Hostname, Primary: recs[0].ID,
		NSPath: filepath.Join(m.cfg.ExecRoot, "netns", req.ContainerID), Endpoints: map[string]*Endpoint{}}
	defer func() {
		if err != nil {
			m.teardownLocked(context.WithoutCancel(ctx), sb)
		}
	}()
	_ = netns.Delete(ctx, sb.NSPath) // a leftover from a crash
	if err := netns.New(ctx, sb.NSPath); err != nil {
		return res, fmt.Errorf("network namespace: %w", err)
	}
	for i, r := range recs {
		es := req.Endpoints[r.Name]
		if es == nil {
			es = req.Endpoints[r.ID]
		}
		mac := ""
		if i == 0 {
			mac = req.MacAddress
		}
		if _, err := m.attachLocked(ctx, sb, r, es, fmt.Sprintf("eth%d", i), mac); err != nil {
			return res, err
		}
	}
	if sb.Ports, err = m.publishLocked(ctx, sb, req); err != nil {
		return res, err
	}
	// Only published ports make per-container rules: skip the netlink
	// round trips for the common container without any.
	if len(sb.Ports) > 0 {
		if err := m.fw.AddContainer(ctx, nft.Container{ID: sb.ContainerID, Network: sb.Primary, Ports: sb.Ports}); err != nil {
			return res, fmt.Errorf("publish ports: %w", err)
		}
	}
	embedded := m.nets[sb.Primary] != nil && !m.nets[sb.Primary].Predefined
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	var dnsServers []string
	for _, a := range append(append([]netip.Addr{}, req.DNS...), m.cfg.DNS...) {
		dnsServers = append(dnsServers, a.String())
	}
	rf, err := dns.ResolvConf(dns.ResolvConfig{Host: hostResolv, HostPath: "/etc/resolv.conf", DNS: dnsServers, Search: req.DNSSearch, Options: req.DNSOptions, Embedded: embedded})
	if err != nil {
		return res, err
	}
	if embedded {
		sb.Upstreams, sb.NdotsSet = rf.Upstreams, rf.NdotsSet
		if err := m.startDNS(ctx, sb); err != nil {
			return res, err
		}
	}
	var addrs []netip.Addr
	for _, id := range sb.order() {
		addrs = append(addrs, sb.Endpoints[id].IPv4.Addr())
	}
	hosts, err := dns.Hosts(dns.HostsConfig{Hostname: req.Hostname, Domainname: req.Domainname, Addrs: addrs, ExtraHosts: req.ExtraHosts,
		HostGateway: []netip.Addr{sb.Endpoints[sb.Primary].Gateway4}})
	if err != nil {
		return res, err
	}
	m.sandboxes[sb.ContainerID] = sb
	if err := m.saveSandbox(sb); err != nil {
		delete(m.sandboxes, sb.ContainerID)
		return res, err
	}
	for _, id := range sb.order() {
		m.event(events.ActionConnect, m.nets[id], map[string]string{"container": sb.ContainerID})
	}
	return SetupResult{NSPath: sb.NSPath, Networks: m.settingsLocked(sb), Ports: portMap(sb.Ports), Hosts: hosts, ResolvConf: rf.Content}, nil
}

// order lists the sandbox's network IDs, primary first.
func (sb *Sandbox) order() []string {
	out := []string{sb.Primary}
	var rest []string
	for id := range sb.Endpoints {
		if id != sb.Primary {
			rest = append(rest, id)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return sb.Endpoints[rest[i]].IfName < sb.Endpoints[rest[j]].IfName })
	if _, ok := sb.Endpoints[sb.Primary]; !ok {
		out = nil
	}
	return append(out, rest...)
}

// attachLocked allocates addresses on r and plugs a veth into the sandbox.
func (m *Manager) attachLocked(ctx context.Context, sb *Sandbox, r *Record, es *network.EndpointSettings, ifName, mac string) (*Endpoint, error) {
	req := ipam.EndpointRequest{Network: r.ID, Owner: sb.ContainerID}
	var aliases []string
	if es != nil {
		if es.IPAMConfig != nil {
			req.IPv4, req.IPv6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
		}
		aliases = slices.Clone(es.Aliases)
		if len(es.MacAddress) > 0 && mac == "" {
			mac = net.HardwareAddr(es.MacAddress).String()
		}
	}
	if (req.IPv4.IsValid() || req.IPv6.IsValid()) && r.Predefined {
		return nil, errorf(errdefs.ErrInvalidArgument, "user specified IP address is supported on user defined networks only")
	}
	ep, err := m.alloc.AllocateEndpoint(ctx, req)
	if err != nil {
		return nil, err
	}
	var hw net.HardwareAddr
	if mac != "" {
		if hw, err = net.ParseMAC(mac); err != nil {
			_ = m.alloc.ReleaseEndpoint(ctx, r.ID, sb.ContainerID)
			return nil, errorf(errdefs.ErrInvalidArgument, "invalid MAC address: %s", mac)
		}
	}
	var addrs []netip.Prefix
	if ep.IPv4.IsValid() {
		addrs = append(addrs, ep.IPv4)
	}
	if ep.IPv6.IsValid() {
		addrs = append(addrs, ep.IPv6)
	}
	gw4, gw6 := ep.Gateway4, ep.Gateway6
	if len(sb.Endpoints) > 0 || r.Internal {
		// Only the first network gives the default routes (Docker picks one
		// gateway too); internal networks give none at all.
		gw4, gw6 = netip.Addr{}, netip.Addr{}
	}
	be, err := bridge.Attach(ctx, bridge.EndpointConfig{Bridge: r.Bridge, NSPath: sb.NSPath, IfName: ifName, MAC: hw, Addrs: addrs,
		Gateway4: gw4, Gateway6: gw6, MTU: 1500, Hairpin: true})
	if err != nil {
		_ = m.alloc.ReleaseEndpoint(ctx, r.ID, sb.ContainerID)
		return nil, fmt.Errorf("attach to network %s: %w", r.Name, err)
	}
	e := &Endpoint{ID: newID(), NetworkID: r.ID, NetworkName: r.Name, IfName: ifName, HostIf: be.HostIfName, MAC: be.MAC.String(),
		IPv4: ep.IPv4, IPv6: ep.IPv6, Gateway4: ep.Gateway4, Gateway6: ep.Gateway6, Aliases: aliases}
	sb.Endpoints[r.ID] = e
	return e, nil
}

// settingsLocked is the sandbox as NetworkSettings.Networks, by network name.
func (m *Manager) settingsLocked(sb *Sandbox) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for id, e := range sb.Endpoints {
		mac, _ := parseMAC(e.MAC)
		es := &network.EndpointSettings{NetworkID: id, EndpointID: e.ID, Gateway: e.Gateway4, IPAddress: e.IPv4.Addr(),
			IPPrefixLen: e.IPv4.Bits(), IPv6Gateway: e.Gateway6, MacAddress: network.HardwareAddr(mac), Aliases: e.Aliases,
			DNSNames: sb.dnsNames(e)}
		if e.IPv6.IsValid() {
			es.GlobalIPv6Address, es.GlobalIPv6PrefixLen = e.IPv6.Addr(), e.IPv6.Bits()
		}
		name := e.NetworkName
		if r := m.nets[id]; r != nil {
			name = r.Name
		}
		out[name] = es
	}
	return out
}

// dnsNames are the names a sandbox answers to on an endpoint's network.
func (sb *Sandbox) dnsNames(e *Endpoint) []string {
	names := []string{sb.Name, sb.ContainerID[:12]}
	if sb.Hostname != "" && sb.Hostname != sb.ContainerID[:12] {
		names = append(names, sb.Hostname)
	}
	return append(names, e.Aliases...)
}

// Teardown undoes Setup: DNS, firewall rules, namespace (the kernel reaps
// the veths), addresses, ports.
func (m *Manager) Teardown(ctx context.Context, containerID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[containerID]
	if !ok {
		return nil
	}
	m.teardownLocked(ctx, sb)
	for _, id := range sb.order() {
		if r := m.nets[id]; r != nil {
			m.event(events.ActionDisconnect, r, map[string]string{"container": containerID})
		}
	}
	return nil
}

func (m *Manager) teardownLocked(ctx context.Context, sb *Sandbox) {
	if sb.dnsStop != nil {
		sb.dnsStop()
		sb.dnsStop = nil
	}
	if len(sb.Ports) > 0 {
		if err := m.fw.RemoveContainer(ctx, sb.ContainerID); err != nil {
			log.From(ctx).Warn("remove container rules", "container", sb.ContainerID, "err", err)
		}
	}
	if err := netns.Delete(ctx, sb.NSPath); err != nil {
		log.From(ctx).Warn("delete network namespace", "container", sb.ContainerID, "err", err)
	}
	if err := m.alloc.ReleaseOwner(ctx, sb.ContainerID); err != nil {
		log.From(ctx).Warn("release addresses", "container", sb.ContainerID, "err", err)
	}
	m.ports.release(sb.Ports)
	delete(m.sandboxes, sb.ContainerID)
	_ = m.db.Update(func(tx *bolt.Tx) error { return metadata.Delete(tx, metadata.BucketSandboxes, sb.ContainerID) })
}

func (m *Manager) saveSandbox(sb *Sandbox) error {
	return m.db.Update(func(tx *bolt.Tx) error { return metadata.PutJSON(tx, metadata.BucketSandboxes, sb.ContainerID, sb) })
}

func (m *Manager) startDNS(ctx context.Context, sb *Sandbox) error {
	stop, err := dns.Serve(context.WithoutCancel(ctx), sb.NSPath, sb.ContainerID, resolver{m}, sb.Upstreams, dns.WithNdotsSet(sb.NdotsSet))
	if err != nil {
		return fmt.Errorf("embedded DNS: %w", err)
	}
	sb.dnsStop = stop
	return nil
}

// Restore takes back the sandboxes of the containers still running after a
// daemon restart (restarting their DNS), drops the others, and rebuilds the
// firewall table from what is left.
func (m *Manager) Restore(ctx context.Context, running func(containerID string) bool) error {
	var all []*Sandbox
	err := m.db.View(func(tx *bolt.Tx) error {
		return metadata.ForEach(tx, metadata.BucketSandboxes, func(k string, raw []byte) error {
			var sb Sandbox
			if err := json.Unmarshal(raw, &sb); err == nil {
				all = append(all, &sb)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	// Ask about the containers before taking the lock: an exit being
	// applied holds the container's lock and tears its sandbox down.
	alive := map[string]bool{}
	for _, sb := range all {
		alive[sb.ContainerID] = running(sb.ContainerID)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rs := nft.Ruleset{}
	for _, r := range m.nets {
		if r.Driver == DriverBridge {
			var subnets []netip.Prefix
			for _, c := range r.IPAM {
				subnets = append(subnets, c.Subnet)
			}
			rs.Networks = append(rs.Networks, nft.Network{Name: r.ID, Bridge: r.Bridge, Subnets: subnets, Internal: r.Internal})
		}
	}
	for _, sb := range all {
		if cur, ok := m.sandboxes[sb.ContainerID]; ok {
			// Set up anew since (a restart policy acted first): keep it.
			rs.Containers = append(rs.Containers, nft.Container{ID: cur.ContainerID, Network: cur.Primary, Ports: cur.Ports})
			continue
		}
		if !alive[sb.ContainerID] {
			m.teardownLocked(ctx, sb)
			continue
		}
		m.sandboxes[sb.ContainerID] = sb
		m.ports.take(sb.Ports)
		rs.Containers = append(rs.Containers, nft.Container{ID: sb.ContainerID, Network: sb.Primary, Ports: sb.Ports})
		if len(sb.Upstreams) > 0 || (m.nets[sb.Primary] != nil && !m.nets[sb.Primary].Predefined) {
			if err := m.startDNS(ctx, sb); err != nil {
				log.From(ctx).Warn("restart embedded DNS", "container", sb.ContainerID, "err", err)
			}
		}
	}
	return m.fw.Rebuild(ctx, rs)
}

// resolver answers the embedded DNS from the sandboxes.
type resolver struct{ m *Manager }

func (r resolver) Lookup(ctx context.Context, containerID, name string, qtype uint16) ([]netip.Addr, bool) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	me, ok := r.m.sandboxes[containerID]
	if !ok {
		return nil, false
	}
	known := false
	var out []netip.Addr
	for netID := range me.Endpoints {
		rec := r.m.nets[netID]
		if rec == nil || rec.Predefined {
			continue
		}
		for _, sb := range r.m.sandboxes {
			e, ok := sb.Endpoints[netID]
			if !ok {
				continue
			}
			for _, n := range sb.dnsNames(e) {
				n = strings.ToLower(n)
				if n == name || n+"."+strings.ToLower(rec.Name) == name {
					known = true
					if qtype == 28 && e.IPv6.IsValid() {
						out = append(out, e.IPv6.Addr())
					} else if qtype == 1 && e.IPv4.IsValid() {
						out = append(out, e.IPv4.Addr())
					}
					break
				}
			}
		}
	}
	return out, known
}

func (r resolver) LookupPTR(ctx context.Context, containerID string, addr netip.Addr) (string, bool) {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	me, ok := r.m.sandboxes[containerID]
	if !ok {
		return "", false
	}
	for netID := range me.Endpoints {
		for _, sb := range r.m.sandboxes {
			if e, ok := sb.Endpoints[netID]; ok && (e.IPv4.Addr() == addr || e.IPv6.Addr() == addr) {
				return sb.Name + "." + r.m.nets[netID].Name, true
			}
		}
	}
	return "", false
}

// portMap is Docker's view of published ports.
func portMap(ps []nft.PortMapping) network.PortMap {
	out := network.PortMap{}
	for _, p := range ps {
		for i := uint16(0); ; i++ {
			hp := p.HostPort + i
			cp, err := network.ParsePort(strconv.Itoa(int(p.ContainerPort+i)) + "/" + p.Proto)
			if err != nil {
				break
			}
			hostIP := p.HostIP
			if !hostIP.IsValid() {
				hostIP = netip.IPv4Unspecified()
			}
			out[cp] = append(out[cp], network.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(hp))})
			if p.HostPortEnd == 0 || hp >= p.HostPortEnd {
				break
			}
		}
	}
	return out
}

// Connect attaches a running container's sandbox to one more network.
func (m *Manager) Connect(ctx context.Context, containerID, ref string, es *network.EndpointSettings) (map[string]*network.EndpointSettings, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[containerID]
	if !ok {
		return nil, errorf(errdefs.ErrNotFound, "container %s has no network sandbox", containerID)
	}
	r, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	if r.Driver != DriverBridge {
		return nil, errorf(errdefs.ErrInvalidArgument, "container cannot be disconnected from host network or connected to host network")
	}
	if _, ok := sb.Endpoints[r.ID]; ok {
		return nil, errorf(errdefs.ErrPermissionDenied, "endpoint with name %s already exists in network %s", sb.Name, r.Name)
	}
	if _, err := m.attachLocked(ctx, sb, r, es, fmt.Sprintf("eth%d", len(sb.Endpoints)), ""); err != nil {
		return nil, err
	}
	if err := m.saveSandbox(sb); err != nil {
		return nil, err
	}
	m.event(events.ActionConnect, r, map[string]string{"container": containerID})
	return m.settingsLocked(sb), nil
}

// Disconnect detaches a running container's sandbox from a network.
func (m *Manager) Disconnect(ctx context.Context, containerID, ref string) (map[string]*network.EndpointSettings, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	sb, ok := m.sandboxes[containerID]
	if !ok {
		return nil, errorf(errdefs.ErrNotFound, "container %s has no network sandbox", containerID)
	}
	r, err := m.find(ref)
	if err != nil {
		return nil, err
	}
	e, ok := sb.Endpoints[r.ID]
	if !ok {
		return nil, errorf(errdefs.ErrInvalidArgument, "container %s is not connected to network %s", containerID, r.Name)
	}
	if err := bridge.Detach(ctx, e.HostIf); err != nil {
		return nil, err
	}
	if err := m.alloc.ReleaseEndpoint(ctx, r.ID, containerID); err != nil {
		log.From(ctx).Warn("release address", "container", containerID, "network", r.Name, "err", err)
	}
	delete(sb.Endpoints, r.ID)
	if err := m.saveSandbox(sb); err != nil {
		return nil, err
	}
	m.event(events.ActionDisconnect, r, map[string]string{"container": containerID})
	return m.settingsLocked(sb), nil
}

// Exists resolves a network reference to its name.
func (m *Manager) Exists(ctx context.Context, ref string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.find(ref)
	if err != nil {
		return "", err
	}
	return r.Name, nil
}
