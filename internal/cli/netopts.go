package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// networkAttachment is one --network value: a network name (or mode) and,
// in the long syntax, its endpoint options.
type networkAttachment struct {
	target       string
	aliases      []string
	ipv4, ipv6   string
	macAddress   string
	linkLocalIPs []string
	driverOpts   map[string]string
	gwPriority   int
	links        []string
}

// longNetworkSyntax recognises the key=value form of --network, as docker
// does (the pattern is deliberately unanchored, like docker's).
var longNetworkSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

// networkList is the --network/--net flag value: repeatable, each value
// either a plain name or "name=NET[,alias=A][,ip=IP][,ip6=IP]
// [,mac-address=MAC][,link-local-ip=IP][,driver-opt=K=V][,gw-priority=N]".
type networkList struct {
	values []networkAttachment
}

// String returns the targets as pflag prints values.
func (n *networkList) String() string {
	t := make([]string, len(n.values))
	for i, v := range n.values {
		t[i] = v.target
	}
	return strings.Join(t, ",")
}

// Type is the value's name in help output.
func (*networkList) Type() string { return "network" }

// Set parses one --network value.
func (n *networkList) Set(value string) error {
	a, err := parseNetworkAttachment(value)
	if err != nil {
		return err
	}
	n.values = append(n.values, a)
	return nil
}

// parseNetworkAttachment parses one --network value (docker opts.NetworkOpt).
// Keys, and in docker's way also values, of the long form are lower-cased.
func parseNetworkAttachment(value string) (networkAttachment, error) {
	if !longNetworkSyntax.MatchString(value) {
		return networkAttachment{target: value}, nil
	}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return networkAttachment{}, err
	}
	var a networkAttachment
	for _, field := range fields {
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return networkAttachment{}, fmt.Errorf("invalid field %s", field)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "name":
			a.target = val
		case "alias":
			a.aliases = append(a.aliases, val)
		case "ip":
			a.ipv4 = val
		case "ip6":
			a.ipv6 = val
		case "mac-address":
			a.macAddress = val
		case "link-local-ip":
			a.linkLocalIPs = append(a.linkLocalIPs, val)
		case "driver-opt":
			k, v, ok := cutTrimmed(val)
			if !ok || k == "" {
				return networkAttachment{}, errors.New("invalid key value pair format in driver options")
			}
			if a.driverOpts == nil {
				a.driverOpts = map[string]string{}
			}
			a.driverOpts[k] = v
		case "gw-priority":
			p, err := strconv.Atoi(val)
			if err != nil {
				return networkAttachment{}, fmt.Errorf("invalid gw-priority: %w", err)
			}
			a.gwPriority = p
		default:
			return networkAttachment{}, errors.New("invalid field key " + key)
		}
	}
	if a.target == "" {
		return networkAttachment{}, errors.New("network name not specified")
	}
	return a, nil
}

// cutTrimmed splits key=value and trims spaces around both.
func cutTrimmed(s string) (string, string, bool) {
	k, v, ok := strings.Cut(s, "=")
	return strings.TrimSpace(k), strings.TrimSpace(v), ok
}

// endpointFlags are the single-network flags of run/create that apply to
// the first --network: --network-alias, --link, --ip, --ip6,
// --mac-address and --link-local-ip.
type endpointFlags struct {
	aliases, links, linkLocalIPs []string
	ipv4, ipv6, macAddress       string
}

// networkingConfig builds the network mode and the per-network endpoint
// settings of a container create request, as docker's CLI does: without
// --network the "default" network gets the endpoint (empty unless a flag
// set something); a single --network without options sends none; the
// single-network flags apply to the first network.
func networkingConfig(nets []networkAttachment, ef endpointFlags) (container.NetworkMode, map[string]*network.EndpointSettings, error) {
	endpoints := map[string]*network.EndpointSettings{}
	if len(nets) == 0 {
		a := networkAttachment{target: network.NetworkDefault}
		if err := ef.applyTo(&a); err != nil {
			return "", nil, err
		}
		ep, err := endpointSettings(a)
		if err != nil {
			return "", nil, err
		}
		endpoints[a.target] = ep
		return container.NetworkMode(network.NetworkDefault), endpoints, nil
	}
	var userDefined, builtin bool
	for i, a := range nets {
		if container.NetworkMode(a.target).IsUserDefined() {
			userDefined = true
		} else {
			builtin = true
		}
		if i == 0 {
			if err := ef.applyTo(&a); err != nil {
				return "", nil, err
			}
		}
		ep, err := endpointSettings(a)
		if err != nil {
			return "", nil, err
		}
		if _, dup := endpoints[a.target]; dup {
			return "", nil, fmt.Errorf("network %q is specified multiple times", a.target)
		}
		if i == 0 && len(nets) == 1 && reflect.DeepEqual(*ep, network.EndpointSettings{}) {
			continue
		}
		endpoints[a.target] = ep
	}
	if userDefined && builtin {
		return "", nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return container.NetworkMode(nets[0].target), endpoints, nil
}

// applyTo puts the single-network flags on attachment a, refusing what the
// long --network syntax already set.
func (ef endpointFlags) applyTo(a *networkAttachment) error {
	switch {
	case len(a.aliases) > 0 && len(ef.aliases) > 0:
		return errors.New("conflicting options: cannot specify both --network-alias and per-network alias")
	case len(a.links) > 0 && len(ef.links) > 0:
		return errors.New("conflicting options: cannot specify both --link and per-network links")
	case a.ipv4 != "" && ef.ipv4 != "":
		return errors.New("conflicting options: cannot specify both --ip and per-network IPv4 address")
	case a.ipv6 != "" && ef.ipv6 != "":
		return errors.New("conflicting options: cannot specify both --ip6 and per-network IPv6 address")
	case a.macAddress != "" && ef.macAddress != "":
		return errors.New("conflicting options: cannot specify both --mac-address and per-network MAC address")
	case len(a.linkLocalIPs) > 0 && len(ef.linkLocalIPs) > 0:
		return errors.New("conflicting options: cannot specify both --link-local-ip and per-network link-local IP addresses")
	}
	if len(ef.aliases) > 0 {
		a.aliases = append([]string(nil), ef.aliases...)
	}
	// On a user-defined network --link is an endpoint option (an alias);
	// on the default bridge it is a legacy link in the host config.
	if container.NetworkMode(a.target).IsUserDefined() && len(ef.links) > 0 {
		a.links = append([]string(nil), ef.links...)
	}
	if ef.ipv4 != "" {
		a.ipv4 = ef.ipv4
	}
	if ef.ipv6 != "" {
		a.ipv6 = ef.ipv6
	}
	if ef.macAddress != "" {
		a.macAddress = ef.macAddress
	}
	if len(ef.linkLocalIPs) > 0 {
		a.linkLocalIPs = append([]string(nil), ef.linkLocalIPs...)
	}
	return nil
}

// endpointSettings turns an attachment into the endpoint settings of the
// create request, validating addresses on the way.
func endpointSettings(a networkAttachment) (*network.EndpointSettings, error) {
	if strings.TrimSpace(a.target) == "" {
		return nil, errors.New("no name set for network")
	}
	if !container.NetworkMode(a.target).IsUserDefined() {
		if len(a.aliases) > 0 {
			return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
		}
		if len(a.links) > 0 {
			return nil, errors.New("links are only supported for user-defined networks")
		}
	}
	ep := &network.EndpointSettings{GwPriority: a.gwPriority}
	ep.Aliases = append(ep.Aliases, a.aliases...)
	if len(a.driverOpts) > 0 {
		ep.DriverOpts = a.driverOpts
	}
	if len(a.links) > 0 {
		ep.Links = a.links
	}
	if a.ipv4 != "" || a.ipv6 != "" || len(a.linkLocalIPs) > 0 {
		ipam := &network.EndpointIPAMConfig{}
		var err error
		if a.ipv4 != "" {
			if ipam.IPv4Address, err = netip.ParseAddr(a.ipv4); err != nil || !ipam.IPv4Address.Is4() {
				return nil, fmt.Errorf("invalid IPv4 address: %s", a.ipv4)
			}
		}
		if a.ipv6 != "" {
			if ipam.IPv6Address, err = netip.ParseAddr(a.ipv6); err != nil || !ipam.IPv6Address.Is6() {
				return nil, fmt.Errorf("invalid IPv6 address: %s", a.ipv6)
			}
		}
		for _, s := range a.linkLocalIPs {
			ll, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("invalid link-local IP address: %s", s)
			}
			ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, ll)
		}
		ep.IPAMConfig = ipam
	}
	if a.macAddress != "" {
		mac, err := net.ParseMAC(strings.TrimSpace(a.macAddress))
		if err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", a.macAddress)
		}
		ep.MacAddress = network.HardwareAddr(mac)
	}
	return ep, nil
}
