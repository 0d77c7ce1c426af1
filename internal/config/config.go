// Package config is the daemon's configuration: its types, defaults,
// validation, and the daemon.json file with dockerd's key names. Flags and
// the file are merged at the edge (cmd/berthd); components receive their
// own settings from internal/daemon and never read flags or files.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
)

// Runtime is an OCI runtime the daemon may use, as in daemon.json's "runtimes".
type Runtime struct {
	Path string `json:"path"`
}

// Daemon is berthd's configuration.
type Daemon struct {
	Hosts          []string           `json:"hosts,omitempty"`
	DataRoot       string             `json:"data-root,omitempty"`
	ExecRoot       string             `json:"exec-root,omitempty"`
	DefaultRuntime string             `json:"default-runtime,omitempty"`
	Runtimes       map[string]Runtime `json:"runtimes,omitempty"`
	LogLevel       string             `json:"log-level,omitempty"`
	Pidfile        string             `json:"pidfile,omitempty"`
	LogDriver      string             `json:"log-driver,omitempty"`
	LogOpts        map[string]string  `json:"log-opts,omitempty"`
	CgroupParent   string             `json:"cgroup-parent,omitempty"`
	// ShutdownTimeout is dockerd's shutdown-timeout, in seconds.
	ShutdownTimeout int `json:"shutdown-timeout,omitempty"`
	// Bridge is the default network's device; "none" disables it.
	Bridge string `json:"bridge,omitempty"`
	// BIP is the default bridge's address and prefix (e.g. 10.20.0.1/16).
	BIP string `json:"bip,omitempty"`
	// FixedCIDR limits the default bridge's container addresses.
	FixedCIDR string `json:"fixed-cidr,omitempty"`
	// DefaultAddressPools are the pools user networks get subnets from.
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`
	// IPForward enables the host's IPv4 forwarding (default true).
	IPForward *bool `json:"ip-forward,omitempty"`
	// DNS are the default nameservers of containers.
	DNS []string `json:"dns,omitempty"`
	// InsecureRegistries are registries reached over plain HTTP or
	// unchecked TLS ("host[:port]" or a CIDR); loopback ones always are.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	// RegistryMirrors maps a registry domain to the mirrors pulls try
	// first.
	RegistryMirrors RegistryMirrors `json:"registry-mirrors,omitempty"`
}

// RegistryMirrors maps a registry domain ("docker.io", "ghcr.io") to mirror
// URLs. In daemon.json it is berth's object form or Docker's list form,
// which names mirrors of docker.io.
type RegistryMirrors map[string][]string

// UnmarshalJSON accepts {"domain": ["url", ...]} and ["url", ...].
func (m *RegistryMirrors) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*m = RegistryMirrors{"docker.io": list}
		return nil
	}
	var obj map[string][]string
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("registry-mirrors: want a list of URLs or an object of lists: %w", err)
	}
	*m = obj
	return nil
}

// AddressPool is one of daemon.json's default-address-pools.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// DefaultSocket is where berthd listens unless told otherwise.
const DefaultSocket = "/run/berth/berth.sock"

// DefaultConfig returns berth's defaults.
func DefaultConfig() Daemon {
	return Daemon{
		Hosts:          []string{"unix://" + DefaultSocket},
		DataRoot:       "/var/lib/berth",
		ExecRoot:       "/run/berth",
		DefaultRuntime: "runc",
		Runtimes:       map[string]Runtime{},
		LogLevel:       "info",
		Pidfile:        "/run/berth/berthd.pid",
		LogDriver:      "json-file",
		LogOpts:        map[string]string{},
		CgroupParent:   "berth",
	}
}

// Validate checks the configuration without changing it.
func (d Daemon) Validate() error {
	if len(d.Hosts) == 0 {
		return fmt.Errorf("no host to listen on: %w", errdefs.ErrInvalidArgument)
	}
	for _, h := range d.Hosts {
		if _, err := SocketPath(h); err != nil {
			return err
		}
	}
	for name, p := range map[string]string{"data-root": d.DataRoot, "exec-root": d.ExecRoot} {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("%s must be an absolute path, got %q: %w", name, p, errdefs.ErrInvalidArgument)
		}
	}
	switch d.LogLevel {
	case "debug", "info", "warn", "error", "fatal":
	default:
		return fmt.Errorf("unable to parse logging level: %s: %w", d.LogLevel, errdefs.ErrInvalidArgument)
	}
	for name, rt := range d.Runtimes {
		if name == "" || rt.Path == "" {
			return fmt.Errorf("runtime %q needs a name and a path: %w", name, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// SocketPath returns the unix socket path of a -H value ("unix:///path" or
// a bare path). TCP needs mutual TLS, which comes later.
func SocketPath(host string) (string, error) {
	switch {
	case strings.HasPrefix(host, "unix://"):
		p := strings.TrimPrefix(host, "unix://")
		if p == "" {
			p = DefaultSocket
		}
		return p, nil
	case strings.HasPrefix(host, "/"):
		return host, nil
	}
	return "", fmt.Errorf("invalid host %q: only unix:// sockets are supported: %w", host, errdefs.ErrInvalidArgument)
}

// LoadFile reads a daemon.json. Unknown keys are errors, as in dockerd.
// A missing file is not an error when optional is set.
func LoadFile(path string, optional bool) (Daemon, map[string]bool, error) {
	var d Daemon
	b, err := os.ReadFile(path)
	if err != nil {
		if optional && os.IsNotExist(err) {
			return d, map[string]bool{}, nil
		}
		return d, nil, fmt.Errorf("read config %s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return d, nil, fmt.Errorf("config %s: %w: %w", path, errdefs.ErrInvalidArgument, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, nil, fmt.Errorf("config %s: the following directives don't match any configuration option: %w: %w", path, errdefs.ErrInvalidArgument, err)
	}
	set := map[string]bool{}
	for k := range raw {
		set[k] = true
	}
	return d, set, nil
}
