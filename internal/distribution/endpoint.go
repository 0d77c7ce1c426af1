package distribution

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
)

// Docker Hub's names: the domain references use and the host that serves
// the registry API.
const (
	hubDomain = "docker.io"
	hubHost   = "registry-1.docker.io"
)

// endpoint is one registry (or mirror) host serving a repository.
type endpoint struct {
	host   string // host[:port] contacted
	repo   string // repository path on that host
	mirror bool
	reg    name.Registry
	base   http.RoundTripper // TLS and timeouts, no auth
}

// endpoints returns where named can be pulled from (pull) or pushed to:
// the mirrors of its domain first, when pulling, then the registry itself.
func (c *Client) endpoints(named reference.Named, pull bool) ([]endpoint, error) {
	domain := reference.Domain(named)
	path := reference.Path(named)
	var out []endpoint
	if pull {
		for _, m := range c.cfg.Mirrors[domain] {
			u, err := parseMirror(m)
			if err != nil {
				return nil, err
			}
			ep, err := c.newEndpoint(u.Host, path, u.Scheme == "http")
			if err != nil {
				return nil, err
			}
			ep.mirror = true
			out = append(out, ep)
		}
	}
	host := domain
	if domain == hubDomain {
		host = hubHost
	}
	ep, err := c.newEndpoint(host, path, false)
	if err != nil {
		return nil, err
	}
	return append(out, ep), nil
}

func (c *Client) newEndpoint(host, repo string, plainHTTP bool) (endpoint, error) {
	insecure := plainHTTP || c.cfg.insecure(host)
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return endpoint{}, fmt.Errorf("registry %s: %v: %w", host, err, errdefs.ErrInvalidArgument)
	}
	base, err := c.baseTransport(host, insecure)
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{host: host, repo: repo, reg: reg, base: base}, nil
}

// baseTransport is an HTTP transport for host with its certs.d CAs and
// client certificates, and the silence timeout.
func (c *Client) baseTransport(host string, insecure bool) (http.RoundTripper, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // insecure registries are the user's choice
	if err := c.loadCerts(host, tlsCfg); err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   c.cfg.Timeout,
		ResponseHeaderTimeout: c.cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}, nil
}

// loadCerts adds the CA and client certificates of host's certs.d
// directories to cfg.
func (c *Client) loadCerts(host string, cfg *tls.Config) error {
	for _, root := range c.cfg.CertsDirs {
		dir := filepath.Join(root, host)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("certificates for %s: %w", host, err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt"):
				pem, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("certificates for %s: %w", host, err)
				}
				if cfg.RootCAs == nil {
					if cfg.RootCAs, err = x509.SystemCertPool(); err != nil || cfg.RootCAs == nil {
						cfg.RootCAs = x509.NewCertPool()
					}
				}
				if !cfg.RootCAs.AppendCertsFromPEM(pem) {
					return fmt.Errorf("certificates for %s: no certificate in %s: %w", host, p, errdefs.ErrInvalidArgument)
				}
			case strings.HasSuffix(e.Name(), ".cert"):
				key := strings.TrimSuffix(p, ".cert") + ".key"
				pair, err := tls.LoadX509KeyPair(p, key)
				if err != nil {
					return fmt.Errorf("client certificate for %s: %w", host, err)
				}
				cfg.Certificates = append(cfg.Certificates, pair)
			}
		}
	}
	return nil
}

// authenticator turns the credentials of an API request into ggcr's.
func authenticator(a registry.AuthConfig) authn.Authenticator {
	if a == (registry.AuthConfig{}) {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: a.Username, Password: a.Password, Auth: a.Auth,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken,
	})
}

// session is an authenticated HTTP client for one repository of an
// endpoint.
type session struct {
	ep      endpoint
	client  *http.Client
	scheme  string
	timeout time.Duration
}

// small bounds a request for a small document (manifest, config) by the
// session's timeout; stop returns the error to report instead of err.
func (s *session) small(ctx context.Context) (context.Context, func(err error) error) {
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout, fmt.Errorf("no data from %s for %s: %w", s.ep.host, s.timeout, errdefs.ErrUnavailable))
	return ctx, func(err error) error {
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && errors.Is(err, context.DeadlineExceeded) {
				err = cause
			}
		}
		cancel()
		return err
	}
}

// repoScope is a token scope for repository repo with actions.
func repoScope(repo string, actions ...string) string {
	return "repository:" + repo + ":" + strings.Join(actions, ",")
}

// open pings ep, runs the auth handshake for scopes and returns a session.
func (c *Client) open(ctx context.Context, ep endpoint, auth registry.AuthConfig, scopes []string) (*session, error) {
	rt, err := transport.NewWithContext(ctx, ep.reg, authenticator(auth), ep.base, scopes)
	if err != nil {
		return nil, classify(err)
	}
	// Requests name https; the transport switches to http when the ping
	// had to (insecure registries only).
	return &session{ep: ep, client: &http.Client{Transport: rt}, scheme: "https", timeout: c.cfg.Timeout}, nil
}

func (s *session) url(kind, ref string) string {
	return fmt.Sprintf("%s://%s/v2/%s/%s/%s", s.scheme, s.ep.reg.RegistryStr(), s.ep.repo, kind, ref)
}

// do sends req and checks that the status is one of ok.
func (s *session) do(req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, classify(err)
	}
	for _, code := range ok {
		if resp.StatusCode == code {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	err = transport.CheckError(resp, ok...)
	return nil, classify(err)
}

// classify maps registry errors to errdefs classes.
func classify(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrUnauthenticated})
		case http.StatusForbidden:
			return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrPermissionDenied})
		case http.StatusNotFound:
			return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrNotFound})
		case http.StatusTooManyRequests:
			return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrResourceExhausted})
		}
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w%w", err, classOnly{errdefs.ErrUnavailable})
	}
	return err
}

// classOnly wraps a class sentinel but prints nothing.
type classOnly struct{ class error }

func (c classOnly) Error() string { return "" }
func (c classOnly) Unwrap() error { return c.class }

// drain reads a little of r and closes it, so that the connection can be
// reused.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
	r.Close()
}
