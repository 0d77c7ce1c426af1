package distribution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of Docker's schema 2 (OCI's come from image-spec).
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	// maxManifestSize bounds manifests and configs read into memory.
	maxManifestSize = 4 << 20
)

var acceptManifests = strings.Join([]string{
	ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList,
	ocispec.MediaTypeImageManifest, mediaTypeDockerManifest,
}, ", ")

// manifestDoc holds the fields of manifests and indexes that matter here.
type manifestDoc struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType,omitempty"`
	Config        ocispec.Descriptor   `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
}

// parseManifest reads a manifest or index. mediaType is the Content-Type it
// came with ("" when unknown); the document's own mediaType wins. It returns
// the document and its media type; errors are ErrInvalidArgument.
func parseManifest(raw []byte, mediaType string) (manifestDoc, string, error) {
	var m manifestDoc
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, "", fmt.Errorf("invalid manifest: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if m.MediaType != "" {
		mediaType = m.MediaType
	}
	if mediaType == "" || mediaType == "application/json" || strings.HasPrefix(mediaType, "text/plain") {
		switch {
		case m.Manifests != nil:
			mediaType = ocispec.MediaTypeImageIndex
		case m.Config.Digest != "":
			mediaType = ocispec.MediaTypeImageManifest
		}
	}
	switch mediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		for _, d := range m.Manifests {
			if err := checkDescriptor(d); err != nil {
				return m, "", err
			}
		}
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		if m.SchemaVersion != 2 {
			return m, "", fmt.Errorf("invalid manifest: schemaVersion %d: %w", m.SchemaVersion, errdefs.ErrInvalidArgument)
		}
		if err := checkDescriptor(m.Config); err != nil {
			return m, "", err
		}
		for _, d := range m.Layers {
			if err := checkDescriptor(d); err != nil {
				return m, "", err
			}
		}
	case mediaTypeDockerSchema1, "application/vnd.docker.distribution.manifest.v1+json":
		return m, "", fmt.Errorf("%s: %w", schema1Removed, errdefs.ErrInvalidArgument)
	default:
		return m, "", fmt.Errorf("unsupported manifest media type %q: %w", mediaType, errdefs.ErrInvalidArgument)
	}
	return m, mediaType, nil
}

func checkDescriptor(d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("invalid manifest: digest %q: %v: %w", d.Digest, err, errdefs.ErrInvalidArgument)
	}
	if d.Size < 0 {
		return fmt.Errorf("invalid manifest: negative size for %s: %w", d.Digest, errdefs.ErrInvalidArgument)
	}
	return nil
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerManifestList
}

// fetchManifest GETs the manifest ref (a tag or digest) and verifies it
// against want (or ref, when it is a digest). It returns the bytes, their
// media type and digest.
func (s *session) fetchManifest(ctx context.Context, ref string, want digest.Digest) (_ []byte, _ string, _ digest.Digest, err error) {
	ctx, stop := s.small(ctx)
	defer func() { err = stop(err) }()
	if d, err := digest.Parse(ref); err == nil {
		want = d
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("manifests", ref), nil)
	if err != nil {
		return nil, "", "", err
	}
	req.Header.Set("Accept", acceptManifests)
	resp, err := s.do(req, http.StatusOK)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, "", "", fmt.Errorf("read manifest %s: %w", ref, err)
	}
	if len(raw) > maxManifestSize {
		return nil, "", "", fmt.Errorf("manifest %s exceeds %d bytes: %w", ref, maxManifestSize, errdefs.ErrInvalidArgument)
	}
	got := digest.FromBytes(raw)
	if want != "" {
		if want.Algorithm() != digest.SHA256 && want.Algorithm().Available() {
			got = want.Algorithm().FromBytes(raw)
		}
		if got != want {
			return nil, "", "", fmt.Errorf("manifest verification failed for digest %s: %w", want, errdefs.ErrInvalidArgument)
		}
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return raw, strings.TrimSpace(mt), got, nil
}

// fetchSmallBlob GETs a config blob, verified against desc.
func (s *session) fetchSmallBlob(ctx context.Context, desc ocispec.Descriptor) (_ []byte, err error) {
	ctx, stop := s.small(ctx)
	defer func() { err = stop(err) }()
	if desc.Size > maxManifestSize {
		return nil, fmt.Errorf("config %s exceeds %d bytes: %w", desc.Digest, maxManifestSize, errdefs.ErrInvalidArgument)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url("blobs", desc.Digest.String()), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.do(req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, desc.Size+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", desc.Digest, err)
	}
	if int64(len(b)) != desc.Size || desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return nil, fmt.Errorf("blob %s: content does not match its digest: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// HostPlatform is the platform pulls pick by default.
func HostPlatform() ocispec.Platform {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

// ParsePlatform parses "os[/arch[/variant]]"; "" gives the host platform.
func ParsePlatform(s string) (ocispec.Platform, error) {
	if s == "" {
		return HostPlatform(), nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: want os[/arch[/variant]]: %w", s, errdefs.ErrInvalidArgument)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: runtime.GOARCH}
	if len(parts) > 1 {
		p.Architecture = normalizeArch(parts[1])
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64":
		return "arm64"
	case "i386":
		return "386"
	}
	return a
}

// matchPlatform reports whether have satisfies want. An empty wanted
// variant accepts any; arm64's "v8" is the same as none.
func matchPlatform(want ocispec.Platform, have *ocispec.Platform) bool {
	if have == nil || have.OS != want.OS || normalizeArch(have.Architecture) != want.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	hv, wv := have.Variant, want.Variant
	if want.Architecture == "arm64" {
		if hv == "" {
			hv = "v8"
		}
		if wv == "" {
			wv = "v8"
		}
	}
	return hv == wv
}

// pickManifest chooses the manifest for want from an index.
func pickManifest(idx manifestDoc, want ocispec.Platform) (ocispec.Descriptor, error) {
	for _, d := range idx.Manifests {
		if d.MediaType != "" && isIndex(d.MediaType) {
			continue
		}
		if matchPlatform(want, d.Platform) {
			return d, nil
		}
	}
	p := want.OS + "/" + want.Architecture
	if want.Variant != "" {
		p += "/" + want.Variant
	}
	return ocispec.Descriptor{}, fmt.Errorf("no matching manifest for %s in the manifest list entries: %w", p, errdefs.ErrNotFound)
}
