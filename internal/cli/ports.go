package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
)

// portMapping is one container port and how it is published.
type portMapping struct {
	port    network.Port
	binding network.PortBinding
}

// parsePublish parses one -p/--publish value in Docker's forms:
//
//	containerPort[-end][/proto]
//	hostPort[-end]:containerPort[-end][/proto]
//	ip:[hostPort[-end]]:containerPort[-end][/proto]   (IPv6 in brackets)
func parsePublish(raw string) ([]portMapping, error) {
	ip, hostPort, containerPort := splitPortParts(raw)
	containerPort, proto := splitProtoPort(containerPort)
	if ip != "" && ip[0] == '[' {
		h, _, err := net.SplitHostPort(ip + ":")
		if err != nil {
			return nil, fmt.Errorf("invalid IP address %v: %w", ip, err)
		}
		ip = h
	}
	var hostIP netip.Addr
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || a.Zone() != "" {
			return nil, errors.New("invalid IP address: " + ip)
		}
		hostIP = a
	}
	if containerPort == "" {
		return nil, fmt.Errorf("no port specified: %s<empty>", raw)
	}
	start, end, err := parsePortRange(containerPort)
	if err != nil {
		return nil, errors.New("invalid containerPort: " + containerPort)
	}
	var hStart, hEnd uint64
	if hostPort != "" {
		hStart, hEnd, err = parsePortRange(hostPort)
		if err != nil {
			return nil, errors.New("invalid hostPort: " + hostPort)
		}
		if end-start != hEnd-hStart && end != start {
			return nil, fmt.Errorf("invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	proto = strings.ToLower(proto)
	if err := validateProto(proto); err != nil {
		return nil, err
	}
	count := end - start + 1
	out := make([]portMapping, 0, count)
	for i := uint64(0); i < count; i++ {
		p, ok := network.PortFrom(uint16(start+i), network.IPProtocol(proto))
		if !ok {
			return nil, errors.New("invalid containerPort: " + containerPort)
		}
		hp := ""
		if hostPort != "" {
			hp = strconv.FormatUint(hStart+i, 10)
			if count == 1 && hStart != hEnd {
				hp += "-" + strconv.FormatUint(hEnd, 10)
			}
		}
		out = append(out, portMapping{port: p, binding: network.PortBinding{HostIP: hostIP, HostPort: hp}})
	}
	return out, nil
}

// parseExpose parses one --expose value: port[-end][/proto].
func parseExpose(raw string) ([]network.Port, error) {
	if strings.Contains(raw, ":") {
		return nil, fmt.Errorf("invalid port format for --expose: %s", raw)
	}
	portStr, proto := splitProtoPort(raw)
	proto = strings.ToLower(proto)
	if err := validateProto(proto); err != nil {
		return nil, err
	}
	start, end, err := parsePortRange(portStr)
	if err != nil {
		return nil, fmt.Errorf("invalid range format for --expose: %s, error: %w", raw, err)
	}
	var out []network.Port
	for i := start; i <= end; i++ {
		p, ok := network.PortFrom(uint16(i), network.IPProtocol(proto))
		if !ok {
			return nil, fmt.Errorf("invalid port format for --expose: %s", raw)
		}
		out = append(out, p)
	}
	return out, nil
}

func splitPortParts(raw string) (ip, hostPort, containerPort string) {
	parts := strings.Split(raw, ":")
	n := len(parts)
	switch n {
	case 1:
		return "", "", parts[0]
	case 2:
		return "", parts[0], parts[1]
	case 3:
		return parts[0], parts[1], parts[2]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

// splitProtoPort splits "80/udp" into ("80", "udp"); the protocol defaults to tcp.
func splitProtoPort(raw string) (port, proto string) {
	port, proto, _ = strings.Cut(raw, "/")
	if port == "" {
		return "", ""
	}
	if proto == "" {
		proto = "tcp"
	}
	return port, proto
}

func validateProto(proto string) error {
	switch proto {
	case "tcp", "udp", "sctp":
		return nil
	}
	return errors.New("invalid proto: " + proto)
}

// parsePortRange parses "80" or "8000-8010".
func parsePortRange(s string) (uint64, uint64, error) {
	if s == "" {
		return 0, 0, errors.New("empty string specified for ports")
	}
	a, b, isRange := strings.Cut(s, "-")
	start, err := strconv.ParseUint(a, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return start, start, nil
	}
	end, err := strconv.ParseUint(b, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if end < start {
		return 0, 0, errors.New("invalid range specified for port: " + s)
	}
	return start, end, nil
}
