package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// RegistryHost returns the registry host of a login's server address:
// "" and Docker Hub's addresses give "docker.io"; a scheme and a path are
// dropped ("http://localhost:5000/v2/" gives "localhost:5000").
func RegistryHost(server string) string {
	s := strings.TrimSpace(server)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "", hubDomain, "index.docker.io", hubHost, "registry.hub.docker.com":
		return hubDomain
	}
	return strings.ToLower(s)
}

// Login checks auth against its server (auth.ServerAddress) as `docker
// login` does. Wrong credentials are ErrUnauthenticated with Docker's text.
func (c *Client) Login(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	domain := RegistryHost(auth.ServerAddress)
	host := domain
	if domain == hubDomain {
		host = hubHost
	}
	ep, err := c.newEndpoint(host, "", false)
	if err != nil {
		return registry.AuthResponse{}, err
	}
	auth.ServerAddress = ""
	loginURL := "https://" + host + "/v2/"
	rt, err := transport.NewWithContext(ctx, ep.reg, authenticator(auth), ep.base, nil)
	if err != nil {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			return registry.AuthResponse{}, fmt.Errorf("%s %q: %s%w", opGet, loginURL, diagnostic(te), classOnly{errdefs.ErrUnauthenticated})
		}
		return registry.AuthResponse{}, classify(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loginURL, nil)
	if err != nil {
		return registry.AuthResponse{}, err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return registry.AuthResponse{}, classify(err)
	}
	drain(resp.Body)
	if resp.StatusCode != http.StatusOK {
		u := loginURL
		if resp.Request != nil {
			u = resp.Request.URL.String()
		}
		return registry.AuthResponse{}, fmt.Errorf("login attempt to %s failed with status: %d %s%w", u, resp.StatusCode, http.StatusText(resp.StatusCode), classOnly{errdefs.ErrUnauthenticated})
	}
	return registry.AuthResponse{Status: "Login Succeeded"}, nil
}

// diagnostic is a registry error's text in Docker's form ("unauthorized:
// incorrect username or password").
func diagnostic(te *transport.Error) string {
	if len(te.Errors) > 0 {
		d := te.Errors[0]
		return strings.ToLower(string(d.Code)) + ": " + d.Message
	}
	return strings.ToLower(http.StatusText(te.StatusCode))
}

// Inspect returns the descriptor ref resolves to on its registry and the
// platforms it offers, as GET /distribution/{name}/json does.
func (c *Client) Inspect(ctx context.Context, ref string, auth registry.AuthConfig) (registry.DistributionInspect, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return registry.DistributionInspect{}, fmt.Errorf("%v%w", err, classOnly{errdefs.ErrInvalidArgument})
	}
	named = reference.TagNameOnly(named)
	eps, err := c.endpoints(named, false)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	ep := eps[len(eps)-1]
	s, err := c.open(ctx, ep, auth, []string{repoScope(ep.repo, "pull")})
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	raw, mt, d, err := s.fetchManifest(ctx, tagOrDigest(named), "")
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	doc, mt, err := parseManifest(raw, mt)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	out := registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))},
		Platforms:  []ocispec.Platform{},
	}
	if isIndex(mt) {
		for _, m := range doc.Manifests {
			if m.Platform != nil {
				out.Platforms = append(out.Platforms, *m.Platform)
			}
		}
		return out, nil
	}
	cfg, err := s.fetchSmallBlob(ctx, doc.Config)
	if err != nil {
		return registry.DistributionInspect{}, err
	}
	var p ocispec.Platform
	if err := json.Unmarshal(cfg, &p); err == nil && p.OS != "" {
		out.Platforms = append(out.Platforms, p)
	}
	return out, nil
}
