package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
)

// ResolvConfig is the input of a container's /etc/resolv.conf.
type ResolvConfig struct {
	// Host is the content of the host's resolv.conf, and HostPath its path
	// (for the comment; default /etc/resolv.conf).
	Host     []byte
	HostPath string
	// DNS, Search and Options are --dns, --dns-search and --dns-option; each
	// non-empty list replaces the host's. A search domain "." means none.
	DNS, Search, Options []string
	// Embedded says the container uses the embedded server (it is on a
	// user-defined network).
	Embedded bool
	// IPv6 says the container has IPv6, so that without the embedded server
	// the host's IPv6 nameservers (and the IPv6 fallbacks) are kept.
	IPv6 bool
}

// ResolvFile is a generated resolv.conf and what the embedded server needs.
type ResolvFile struct {
	Content []byte
	// Upstreams are the servers the embedded server forwards to (Embedded
	// only): the host's nameservers, or the --dns ones, in order.
	Upstreams []Upstream
	// NdotsSet says the host or the user set ndots (for WithNdotsSet).
	NdotsSet bool
}

// Fallback nameservers for a container without the embedded server when the
// host offers none it can reach (only loopback ones), as dockerd.
var (
	fallback4 = []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.4.4")}
	fallback6 = []netip.Addr{netip.MustParseAddr("2001:4860:4860::8888"), netip.MustParseAddr("2001:4860:4860::8844")}
)

// resolvConf is a parsed resolv.conf.
type resolvConf struct {
	nameservers []netip.Addr
	invalid     []string
	search      []string
	options     []string
	other       []string // directives it does not know, copied verbatim
}

func parseResolvConf(b []byte) resolvConf {
	var rc resolvConf
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0][0] == '#' || fields[0][0] == ';' {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if len(fields) < 2 {
				continue
			}
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				rc.nameservers = append(rc.nameservers, a)
			} else {
				rc.invalid = append(rc.invalid, fields[1])
			}
		case "domain", "search": // "domain" is the obsolete form; the last one wins
			if len(fields) >= 2 {
				rc.search = fields[1:]
			}
		case "options":
			rc.options = append(rc.options, fields[1:]...)
		default:
			if strings.ContainsFunc(line, isControl) {
				continue // not worth copying into a container
			}
			rc.other = append(rc.other, line)
		}
	}
	return rc
}

func isControl(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }

// option returns the value of the last option called name.
func (rc *resolvConf) option(name string) (string, bool) {
	for i := len(rc.options) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(rc.options[i], ":")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// checkWord rejects a value that would break out of its resolv.conf line.
func checkWord(kind, v string) error {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' || r == ';' }) {
		return fmt.Errorf("%s %q: %w", kind, v, errdefs.ErrInvalidArgument)
	}
	return nil
}

// ResolvConf generates a container's /etc/resolv.conf the way dockerd does.
//
// With the embedded server, the file names only 127.0.0.11, keeps the search
// domains and options, and adds "ndots:0" unless a valid ndots is set; the
// nameservers it replaced become Upstreams (the host's are dialed from the
// daemon's namespace, --dns ones from the container's). Without it (the default
// bridge network), the host's loopback nameservers are dropped (they mean
// nothing in the container), IPv6 ones too unless cfg.IPv6, and Google's public
// servers stand in when none is left; --dns servers are used as given.
//
// Invalid --dns addresses, and --dns-search or --dns-option values with blanks
// or comment characters, are errdefs.ErrInvalidArgument. Anything in the host's
// file is accepted; unknown directives are copied, invalid nameservers listed
// in a comment.
func ResolvConf(cfg ResolvConfig) (ResolvFile, error) {
	rc := parseResolvConf(cfg.Host)
	var overrides []string
	var nsOverride bool
	ndotsFrom := ""
	if _, ok := rc.option("ndots"); ok {
		ndotsFrom = "host"
	}
	if len(cfg.DNS) > 0 {
		rc.nameservers = nil
		for _, s := range cfg.DNS {
			a, err := netip.ParseAddr(strings.Trim(s, "[]"))
			if err != nil {
				return ResolvFile{}, fmt.Errorf("dns server %q: %w", s, errdefs.ErrInvalidArgument)
			}
			rc.nameservers = append(rc.nameservers, a)
		}
		nsOverride = true
		overrides = append(overrides, "nameservers")
	}
	if len(cfg.Search) > 0 {
		rc.search = nil
		for _, s := range cfg.Search {
			if err := checkWord("dns search domain", s); err != nil {
				return ResolvFile{}, err
			}
			if s != "." {
				rc.search = append(rc.search, s)
			}
		}
		overrides = append(overrides, "search")
	}
	if len(cfg.Options) > 0 {
		for _, s := range cfg.Options {
			if err := checkWord("dns option", s); err != nil {
				return ResolvFile{}, err
			}
		}
		rc.options = append([]string(nil), cfg.Options...)
		ndotsFrom = ""
		if _, ok := rc.option("ndots"); ok {
			ndotsFrom = "override"
		}
		overrides = append(overrides, "options")
	}
	_, ndotsSet := rc.option("ndots")

	out := ResolvFile{NdotsSet: ndotsSet}
	var warnings []string
	transform := "legacy"
	if cfg.Embedded {
		transform = "internal resolver"
		for _, a := range rc.nameservers {
			u := Upstream{Addr: netip.AddrPortFrom(a, 53), FromContainer: nsOverride}
			if u.FromContainer && a == Address.Addr() {
				continue // ourselves
			}
			out.Upstreams = append(out.Upstreams, u)
		}
		rc.nameservers = []netip.Addr{Address.Addr()}
		rc.options = removeInvalidNdots(rc.options)
		if _, ok := rc.option("ndots"); !ok {
			rc.options = append(rc.options, "ndots:0")
			ndotsFrom = "internal"
		}
		if len(out.Upstreams) == 0 {
			warnings = append(warnings, "NO EXTERNAL NAMESERVERS DEFINED")
		}
	} else if !nsOverride {
		var kept []netip.Addr
		for _, a := range rc.nameservers {
			if !a.IsLoopback() && (cfg.IPv6 || !a.Is6() || a.Is4In6()) {
				kept = append(kept, a)
			}
		}
		rc.nameservers = kept
		if len(kept) == 0 {
			rc.nameservers = append(rc.nameservers, fallback4...)
			if cfg.IPv6 {
				rc.nameservers = append(rc.nameservers, fallback6...)
			}
			warnings = append(warnings, "Used default nameservers.")
		}
	}

	hostPath := cfg.HostPath
	if hostPath == "" {
		hostPath = "/etc/resolv.conf"
	}
	var b bytes.Buffer
	b.WriteString("# Generated by berth.\n# This file can be edited; berth will not make further changes once it\n# has been modified.\n\n")
	for _, a := range rc.nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", a)
	}
	if len(rc.search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.search, " "))
	}
	if len(rc.options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.options, " "))
	}
	for _, l := range rc.other {
		b.WriteString(l + "\n")
	}
	if strings.ContainsFunc(hostPath, isControl) {
		hostPath = strconv.Quote(hostPath)
	}
	fmt.Fprintf(&b, "\n# Based on host file: '%s' (%s)\n", hostPath, transform)
	for _, w := range warnings {
		fmt.Fprintf(&b, "# %s\n", w)
	}
	if len(out.Upstreams) > 0 {
		fmt.Fprintf(&b, "# ExtServers: %v\n", out.Upstreams)
	}
	if len(rc.invalid) > 0 {
		fmt.Fprintf(&b, "# Invalid nameservers: %v\n", rc.invalid)
	}
	fmt.Fprintf(&b, "# Overrides: %v\n", overrides)
	if ndotsFrom != "" {
		fmt.Fprintf(&b, "# Option ndots from: %s\n", ndotsFrom)
	}
	out.Content = b.Bytes()
	return out, nil
}

// removeInvalidNdots drops ndots options whose value is not a number >= 0.
func removeInvalidNdots(opts []string) []string {
	var out []string
	for _, o := range opts {
		if k, v, _ := strings.Cut(o, ":"); k == "ndots" {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				continue
			}
		}
		out = append(out, o)
	}
	return out
}
