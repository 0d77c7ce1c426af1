package distribution

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Config holds the client's settings.
type Config struct {
	// InsecureRegistries are registries reached over plain HTTP, or over
	// HTTPS without certificate checks: "host", "host:port" or a CIDR.
	// Loopback registries (localhost, 127.0.0.0/8, ::1) always are.
	InsecureRegistries []string
	// Mirrors maps a registry domain ("docker.io", "ghcr.io",
	// "localhost:5000") to mirror URLs ("http://127.0.0.1:5001") tried in
	// order before the registry itself when pulling.
	Mirrors map[string][]string
	// CertsDirs are searched for HOST[:PORT]/ca.crt (and *.crt, and
	// client.cert/client.key pairs), Docker's certs.d layout.
	CertsDirs []string
	// MaxConcurrentDownloads and MaxConcurrentUploads bound the layers
	// transferred at once per pull or push.
	MaxConcurrentDownloads int
	MaxConcurrentUploads   int
	// Timeout is how long a registry may stay silent (no response headers,
	// no body bytes) before a request fails.
	Timeout time.Duration
	// Retries is how many times a layer download is resumed after a
	// network failure.
	Retries int
	// TempDir holds the spools of layers being unpacked.
	TempDir string
}

// DefaultConfig returns Docker's defaults.
func DefaultConfig() Config {
	return Config{
		CertsDirs:              []string{"/etc/berth/certs.d", "/etc/docker/certs.d"},
		MaxConcurrentDownloads: 3,
		MaxConcurrentUploads:   5,
		Timeout:                60 * time.Second,
		Retries:                5,
	}
}

// Validate checks c without changing it; errors are ErrInvalidArgument.
func (c Config) Validate() error {
	for _, r := range c.InsecureRegistries {
		if strings.Contains(r, "://") {
			return fmt.Errorf("insecure registry %s should not contain '://': %w", r, errdefs.ErrInvalidArgument)
		}
		if strings.Contains(r, "/") {
			if _, err := netip.ParsePrefix(r); err != nil {
				return fmt.Errorf("insecure registry %s: %v: %w", r, err, errdefs.ErrInvalidArgument)
			}
		}
	}
	for reg, ms := range c.Mirrors {
		for _, m := range ms {
			if _, err := parseMirror(m); err != nil {
				return fmt.Errorf("mirror of %s: %w", reg, err)
			}
		}
	}
	if c.MaxConcurrentDownloads < 1 || c.MaxConcurrentUploads < 1 {
		return fmt.Errorf("max concurrent transfers must be at least 1: %w", errdefs.ErrInvalidArgument)
	}
	if c.Timeout <= 0 || c.Retries < 0 {
		return fmt.Errorf("timeout must be positive and retries not negative: %w", errdefs.ErrInvalidArgument)
	}
	return nil
}

// parseMirror checks a mirror URL: http or https, a host, no query.
func parseMirror(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil {
		return nil, fmt.Errorf("invalid mirror %q: %v: %w", s, err, errdefs.ErrInvalidArgument)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("invalid mirror %q: want http(s)://host[:port]: %w", s, errdefs.ErrInvalidArgument)
	}
	return u, nil
}

// insecure reports whether host (with an optional port) may be reached
// without TLS checks.
func (c Config) insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if h == "localhost" {
		return true
	}
	ip, ipErr := netip.ParseAddr(strings.Trim(h, "[]"))
	if ipErr == nil && ip.IsLoopback() {
		return true
	}
	for _, r := range c.InsecureRegistries {
		if r == host || r == h {
			return true
		}
		if p, err := netip.ParsePrefix(r); err == nil && ipErr == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}
