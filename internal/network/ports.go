package network

import (
	"context"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"berth/internal/network/nft"
)

// Docker's range for ephemeral host ports.
const (
	ephemeralLow  = 32768
	ephemeralHigh = 60999
)

// portSet is the host ports berth has published: "proto/ip/port".
type portSet map[string]bool

func portKey(proto string, ip netip.Addr, port uint16) string {
	s := "any"
	if ip.IsValid() && !ip.IsUnspecified() {
		s = ip.String()
	}
	return proto + "/" + s + "/" + strconv.Itoa(int(port))
}

// taken reports whether port is published already, on ip or on any address.
func (p portSet) taken(proto string, ip netip.Addr, port uint16) bool {
	return p[portKey(proto, ip, port)] || p[portKey(proto, netip.Addr{}, port)] ||
		(!ip.IsValid() || ip.IsUnspecified()) && p.anyIP(proto, port)
}

func (p portSet) anyIP(proto string, port uint16) bool {
	suffix := "/" + strconv.Itoa(int(port))
	for k := range p {
		if strings.HasPrefix(k, proto+"/") && strings.HasSuffix(k, suffix) {
			return true
		}
	}
	return false
}

func (p portSet) take(ms []nft.PortMapping) {
	for _, m := range ms {
		for port := m.HostPort; ; port++ {
			p[portKey(m.Proto, m.HostIP, port)] = true
			if m.HostPortEnd == 0 || port >= m.HostPortEnd {
				break
			}
		}
	}
}

func (p portSet) release(ms []nft.PortMapping) {
	for _, m := range ms {
		for port := m.HostPort; ; port++ {
			delete(p, portKey(m.Proto, m.HostIP, port))
			if m.HostPortEnd == 0 || port >= m.HostPortEnd {
				break
			}
		}
	}
}

// hostFree reports whether no process on the host holds the port: berth
// publishes without a proxy, so it checks by binding once.
func hostFree(proto string, ip netip.Addr, port uint16) error {
	host := ""
	if ip.IsValid() && !ip.IsUnspecified() {
		host = ip.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	if proto == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func parseHostPorts(s string) (lo, hi uint16, err error) {
	if s == "" || s == "0" {
		return 0, 0, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	l, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, errorf(errdefs.ErrInvalidArgument, "invalid host port: %s", s)
	}
	h := l
	if isRange {
		if h, err = strconv.ParseUint(b, 10, 16); err != nil || h < l {
			return 0, 0, errorf(errdefs.ErrInvalidArgument, "invalid host port range: %s", s)
		}
	}
	return uint16(l), uint16(h), nil
}

// publishLocked chooses host ports for the container's published ports and
// checks them; the firewall rules are added by the caller.
func (m *Manager) publishLocked(ctx context.Context, sb *Sandbox, req SetupRequest) ([]nft.PortMapping, error) {
	bindings := network.PortMap{}
	for p, bs := range req.PortBindings {
		bindings[p] = bs
	}
	if req.PublishAll {
		for p := range req.ExposedPorts {
			if _, ok := bindings[p]; !ok {
				bindings[p] = []network.PortBinding{{}}
			}
		}
	}
	ports := make([]network.Port, 0, len(bindings))
	for p := range bindings {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	ctrIP := sb.Endpoints[sb.Primary].IPv4.Addr()
	var out []nft.PortMapping
	for _, p := range ports {
		proto := string(p.Proto())
		if proto == "" {
			proto = "tcp"
		}
		for _, b := range bindings[p] {
			if b.HostIP.Is6() && !b.HostIP.IsUnspecified() {
				continue // IPv6 host addresses come with IPv6 container support
			}
			if b.HostIP.Is6() {
				b.HostIP = netip.Addr{}
			}
			lo, hi, err := parseHostPorts(b.HostPort)
			if err != nil {
				return out, err
			}
			port, err := m.pickPort(proto, b.HostIP, lo, hi, ctrIP, p.Num())
			if err != nil {
				m.ports.release(out)
				return nil, err
			}
			pm := nft.PortMapping{Proto: proto, HostIP: b.HostIP, HostPort: port, ContainerIP: ctrIP, ContainerPort: p.Num()}
			m.ports.take([]nft.PortMapping{pm})
			out = append(out, pm)
		}
	}
	return out, nil
}

// pickPort returns a free host port: the given one, the first free in the
// given range, or an ephemeral one.
func (m *Manager) pickPort(proto string, ip netip.Addr, lo, hi uint16, ctrIP netip.Addr, ctrPort uint16) (uint16, error) {
	shown := "0.0.0.0"
	if ip.IsValid() {
		shown = ip.String()
	}
	if lo != 0 && lo == hi {
		if m.ports.taken(proto, ip, lo) {
			return 0, errorf(errdefs.ErrConflict, "Bind for %s:%d failed: port is already allocated", shown, lo)
		}
		if err := hostFree(proto, ip, lo); err != nil {
			return 0, errorf(errdefs.ErrConflict, "failed to bind host port for %s:%d:%s:%d/%s: address already in use", shown, lo, ctrIP, ctrPort, proto)
		}
		return lo, nil
	}
	if lo == 0 {
		lo, hi = ephemeralLow, ephemeralHigh
	}
	for port := uint32(lo); port <= uint32(hi); port++ {
		if m.ports.taken(proto, ip, uint16(port)) || hostFree(proto, ip, uint16(port)) != nil {
			continue
		}
		return uint16(port), nil
	}
	return 0, errorf(errdefs.ErrConflict, "Bind for %s:%d-%d failed: port is already allocated", shown, lo, hi)
}
