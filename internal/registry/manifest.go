package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Manifest media types the registry accepts.
const (
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerForeign  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

// maxManifestSize is the largest manifest accepted: the 4 MiB the
// specification asks registries to take at least.
const maxManifestSize = 4 << 20

// descriptor is an OCI content descriptor, as manifests hold them and as
// the referrers API returns them.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Data         []byte            `json:"data,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     json.RawMessage   `json:"platform,omitempty"`
}

// manifestJSON holds the fields of an image manifest or an index that the
// registry looks at; the stored bytes are always the client's own.
type manifestJSON struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

func (m *manifestJSON) isIndex() bool {
	return m.MediaType == MediaTypeOCIIndex || m.MediaType == MediaTypeDockerList
}

// referrer is the entry a manifest with a subject adds to the referrers
// index of that subject.
type referrer struct {
	subject digest.Digest
	desc    descriptor
}

func parseManifestJSON(body []byte) (*manifestJSON, error) {
	var m manifestJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the manifest")
	}
	return &m, nil
}

// parseManifest checks body, sent with Content-Type contentType, for
// being a well-formed manifest of a supported type, and returns it with its
// media type. It does not look at storage.
func parseManifest(contentType string, body []byte) (*manifestJSON, string, error) {
	m, err := parseManifestJSON(body)
	if err != nil {
		return nil, "", errManifestInvalid("manifest is not valid JSON: " + err.Error())
	}
	mt := ""
	if contentType != "" {
		base, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, "", errManifestInvalid("invalid Content-Type " + contentType)
		}
		mt = base
	}
	switch {
	case mt == "" && m.MediaType == "" && m.Manifests != nil:
		mt = MediaTypeOCIIndex
	case mt == "" && m.MediaType == "":
		mt = MediaTypeOCIManifest
	case mt == "":
		mt = m.MediaType
	case m.MediaType != "" && m.MediaType != mt:
		return nil, "", errManifestInvalid(fmt.Sprintf("mediaType %q does not match Content-Type %q", m.MediaType, mt))
	}
	switch mt {
	case MediaTypeOCIManifest, MediaTypeDockerManifest, MediaTypeOCIIndex, MediaTypeDockerList:
	default:
		return nil, "", errManifestInvalid(fmt.Sprintf("unsupported manifest media type %q", mt))
	}
	m.MediaType = mt
	if m.SchemaVersion == nil || *m.SchemaVersion != 2 {
		return nil, "", errManifestInvalid("schemaVersion must be 2")
	}
	if m.isIndex() {
		if m.Config != nil || m.Layers != nil {
			return nil, "", errManifestInvalid("an index has no config or layers")
		}
		for i := range m.Manifests {
			if err := checkDescriptor(&m.Manifests[i]); err != nil {
				return nil, "", err
			}
		}
	} else {
		if m.Manifests != nil {
			return nil, "", errManifestInvalid("an image manifest has no manifests list")
		}
		if m.Config == nil {
			return nil, "", errManifestInvalid("config descriptor missing")
		}
		if err := checkDescriptor(m.Config); err != nil {
			return nil, "", err
		}
		for i := range m.Layers {
			if err := checkDescriptor(&m.Layers[i]); err != nil {
				return nil, "", err
			}
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(m.Subject); err != nil {
			return nil, "", err
		}
	}
	return m, mt, nil
}

// checkDescriptor validates the digest, size and embedded data of d.
func checkDescriptor(d *descriptor) error {
	if _, err := parseDigest(d.Digest.String()); err != nil {
		return errManifestInvalid(fmt.Sprintf("descriptor digest %q invalid", d.Digest))
	}
	if d.Size < 0 {
		return errManifestInvalid(fmt.Sprintf("descriptor %s: negative size", d.Digest))
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return errManifestInvalid(fmt.Sprintf("descriptor %s: data does not match digest and size", d.Digest))
		}
	}
	return nil
}

// nonDistributable reports whether a layer need not be in the registry.
func nonDistributable(d *descriptor) bool {
	return len(d.URLs) > 0 || strings.Contains(d.MediaType, "nondistributable") || d.MediaType == mediaTypeDockerForeign
}

// referrerOf returns the referrers entry of manifest m (digest d, size
// size), or nil when it has no subject.
func referrerOf(m *manifestJSON, d digest.Digest, size int64) *referrer {
	if m.Subject == nil {
		return nil
	}
	at := m.ArtifactType
	if at == "" && m.Config != nil {
		at = m.Config.MediaType
	}
	return &referrer{subject: m.Subject.Digest, desc: descriptor{
		MediaType:    m.MediaType,
		Digest:       d,
		Size:         size,
		ArtifactType: at,
		Annotations:  m.Annotations,
	}}
}

// references returns the blobs (config and layers) and the child manifests
// that manifest m requires to be present in its repository.
func references(m *manifestJSON) (blobs, manifests []descriptor) {
	if m.isIndex() {
		return nil, m.Manifests
	}
	blobs = append(blobs, *m.Config)
	for i := range m.Layers {
		if !nonDistributable(&m.Layers[i]) {
			blobs = append(blobs, m.Layers[i])
		}
	}
	return blobs, nil
}
