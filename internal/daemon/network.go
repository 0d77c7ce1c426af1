package daemon

import (
	"context"
	"fmt"
	"net/netip"

	apinetwork "github.com/moby/moby/api/types/network"

	"berth/internal/config"
	ctr "berth/internal/container"
	"berth/internal/network"
	"berth/internal/network/ipam"
)

// networkConfig turns the daemon's network settings into the manager's.
func networkConfig(cfg config.Daemon) (network.Config, error) {
	n := network.DefaultConfig(cfg.ExecRoot)
	if cfg.Bridge != "" {
		n.DefaultBridge = cfg.Bridge
	}
	if cfg.IPForward != nil {
		n.IPForward = *cfg.IPForward
	}
	var err error
	if cfg.BIP != "" {
		if n.IPAM.BIP, err = netip.ParsePrefix(cfg.BIP); err != nil {
			return n, fmt.Errorf("invalid bip %q: %w", cfg.BIP, err)
		}
	}
	if cfg.FixedCIDR != "" {
		if n.IPAM.FixedCIDR, err = netip.ParsePrefix(cfg.FixedCIDR); err != nil {
			return n, fmt.Errorf("invalid fixed-cidr %q: %w", cfg.FixedCIDR, err)
		}
	}
	if len(cfg.DefaultAddressPools) > 0 {
		n.IPAM.Pools = nil
		for _, p := range cfg.DefaultAddressPools {
			base, err := netip.ParsePrefix(p.Base)
			if err != nil {
				return n, fmt.Errorf("invalid default-address-pool base %q: %w", p.Base, err)
			}
			n.IPAM.Pools = append(n.IPAM.Pools, ipam.Pool{Base: base, Size: p.Size})
		}
	}
	for _, s := range cfg.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return n, fmt.Errorf("invalid dns %q: %w", s, err)
		}
		n.DNS = append(n.DNS, a)
	}
	return n, n.IPAM.Validate()
}

// networks adapts the network manager to the container manager.
type networks struct{ m *network.Manager }

func (n networks) Exists(ctx context.Context, ref string) (string, error) {
	return n.m.Exists(ctx, ref)
}

func (n networks) Setup(ctx context.Context, r ctr.NetRequest) (ctr.NetResult, error) {
	res, err := n.m.Setup(ctx, network.SetupRequest{
		ContainerID: r.ContainerID, Name: r.Name, Hostname: r.Hostname, Domainname: r.Domainname, Network: r.Network,
		Endpoints: r.Endpoints, PortBindings: r.PortBindings, ExposedPorts: r.ExposedPorts, PublishAll: r.PublishAll,
		MacAddress: r.MacAddress, DNS: r.DNS, DNSSearch: r.DNSSearch, DNSOptions: r.DNSOptions, ExtraHosts: r.ExtraHosts,
	})
	if err != nil {
		return ctr.NetResult{}, err
	}
	return ctr.NetResult{NSPath: res.NSPath, Networks: res.Networks, Ports: res.Ports, Hosts: res.Hosts, ResolvConf: res.ResolvConf}, nil
}

func (n networks) Teardown(ctx context.Context, id string) error { return n.m.Teardown(ctx, id) }

func (n networks) Connect(ctx context.Context, id, ref string, es *apinetwork.EndpointSettings) (map[string]*apinetwork.EndpointSettings, error) {
	return n.m.Connect(ctx, id, ref, es)
}

func (n networks) Disconnect(ctx context.Context, id, ref string) (map[string]*apinetwork.EndpointSettings, error) {
	return n.m.Disconnect(ctx, id, ref)
}
