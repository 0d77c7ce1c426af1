package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"berth/internal/content"
	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/snapshot"
)

// Publisher receives the store's image events (import, tag, untag, delete,
// load, save, prune). Publish must not block for long and must not call back
// into the Store.
type Publisher interface {
	Publish(typ events.Type, action events.Action, actor events.Actor)
}

// Layer is one layer of an image.
type Layer struct {
	// DiffID is the digest of the uncompressed layer tar.
	DiffID digest.Digest `json:"diffID"`
	// ChainID names the unpacked layer (with all below it) in the snapshotter.
	ChainID digest.Digest `json:"chainID"`
	// Digest names the layer blob in the content store, as it came (it
	// equals DiffID when the blob is an uncompressed tar).
	Digest digest.Digest `json:"digest"`
	// MediaType is the blob's media type.
	MediaType string `json:"mediaType"`
	// Size is the blob's size in bytes.
	Size int64 `json:"size"`
	// DiffSize is the length of the uncompressed tar (0 when unknown).
	DiffSize int64 `json:"diffSize,omitempty"`
	// UnpackedSize is the size of the unpacked layer on disk, as the
	// snapshotter reported it.
	UnpackedSize int64 `json:"unpackedSize"`
}

// Image is the record of a local image.
type Image struct {
	// ID is the digest of the config blob, "sha256:<hex>".
	ID digest.Digest `json:"id"`
	// Config is the parsed image config.
	Config dockerspec.DockerOCIImage `json:"config"`
	// Comment is the config's top-level "comment" (Docker's extension).
	Comment string `json:"comment,omitempty"`
	// Layers lists the layers, bottom first; they match Config.RootFS.DiffIDs.
	Layers []Layer `json:"layers"`
	// ManifestDigest names an image manifest in the content store that
	// describes this image's config and layer blobs.
	ManifestDigest digest.Digest `json:"manifestDigest,omitempty"`
	// RepoTags are the image's tags, familiar form ("busybox:latest"), sorted.
	RepoTags []string `json:"repoTags,omitempty"`
	// RepoDigests are the image's canonical references, familiar form
	// ("busybox@sha256:…"), sorted.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Created is the config's creation time (zero when it has none).
	Created time.Time `json:"created"`
	// Size is the sum of the unpacked sizes of the layers.
	Size int64 `json:"size"`
	// LastTagTime is when a tag was last added to the image.
	LastTagTime time.Time `json:"lastTagTime,omitzero"`
}

// ChainID returns the chain ID of the top layer, "" for an image without
// layers.
func (i *Image) ChainID() digest.Digest {
	if len(i.Layers) == 0 {
		return ""
	}
	return i.Layers[len(i.Layers)-1].ChainID
}

// Store is the local image store. It is safe for concurrent use.
type Store struct {
	db   *metadata.DB
	cs   *content.Store
	snap snapshot.Snapshotter
	pub  Publisher
	now  func() time.Time

	// mu is shared by operations that create images and exclusive for
	// those that release layers and blobs.
	mu sync.RWMutex
}

// New returns a Store over the metadata file, content store and snapshotter.
// pub may be nil (no events); now may be nil (time.Now).
func New(db *metadata.DB, cs *content.Store, snap snapshot.Snapshotter, pub Publisher, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, cs: cs, snap: snap, pub: pub, now: now}
}

// publish sends an image event; attributes get the image's labels and name,
// as dockerd's LogImageEvent does.
func (s *Store) publish(action events.Action, id string, name string, labels map[string]string) {
	if s.pub == nil {
		return
	}
	attrs := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		attrs[k] = v
	}
	if name != "" {
		attrs["name"] = name
	}
	s.pub.Publish(events.ImageEventType, action, events.Actor{ID: id, Attributes: attrs})
}

// lookup is a parsed image reference, as Docker reads the argument of
// `docker image inspect`, `rmi` and friends.
type lookup struct {
	// id is set for a full image ID ("sha256:<hex>" or 64 bare hex).
	id digest.Digest
	// key is the tags-bucket key for a name, name:tag or name@digest.
	key string
	// named is the parsed reference behind key.
	named reference.Named
	// prefix is the ID prefix to try when key is not found ("" for none).
	prefix string
	// display is what "No such image: …" prints.
	display string
}

// parseLookup parses ref like dockerd's GetImage: a full ID, a reference
// (normalized, tag latest by default), and otherwise an ID prefix. Refs that
// are neither valid references nor IDs are errdefs.ErrInvalidArgument.
func parseLookup(ref string) (lookup, error) {
	if ref == "" {
		return lookup{}, invalid("invalid reference format: empty image reference")
	}
	parsed, err := reference.ParseAnyReference(ref)
	if err != nil {
		// A "sha256:<short hex>" ID prefix does not parse as a reference
		// in every case; accept it as a prefix.
		if p, ok := idPrefix(ref); ok {
			return lookup{prefix: p, display: ref}, nil
		}
		return lookup{}, invalidErr(err)
	}
	named, ok := parsed.(reference.Named)
	if !ok {
		d, ok := parsed.(reference.Digested)
		if !ok {
			return lookup{}, invalid("invalid reference format: %s", ref)
		}
		return lookup{id: d.Digest(), display: reference.FamiliarString(parsed)}, nil
	}
	if c, ok := named.(reference.Canonical); ok {
		named, err = reference.WithDigest(reference.TrimNamed(named), c.Digest())
		if err != nil {
			return lookup{}, invalidErr(err)
		}
	} else {
		named = reference.TagNameOnly(named)
	}
	l := lookup{key: named.String(), named: named, display: reference.FamiliarString(named)}
	if p, ok := idPrefix(ref); ok {
		l.prefix = p
	}
	return l, nil
}

// idPrefix reports whether s ("sha256:" optional) is a lowercase hex ID
// prefix, and returns its hex part.
func idPrefix(s string) (string, bool) {
	h := strings.TrimPrefix(s, "sha256:")
	if h == "" || len(h) > 64 {
		return "", false
	}
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return h, true
}

// shortID is Docker's TruncateID: the hex without algorithm, 12 characters.
func shortID(id string) string {
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// Get returns the image that ref names. ref may be a full ID
// ("sha256:<hex>" or bare 64 hex), a unique ID prefix, "name", "name:tag"
// or "name@sha256:…"; names are normalized as Docker does ("busybox" is
// "docker.io/library/busybox:latest"). A missing image is a *NotFoundError
// (errdefs.ErrNotFound); an ambiguous ID prefix is reported the same way, as
// dockerd does. A malformed ref is errdefs.ErrInvalidArgument.
func (s *Store) Get(ctx context.Context, ref string) (*Image, error) {
	var img *Image
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		img, err = s.getTx(ctx, tx, ref)
		return err
	})
	return img, err
}

func (s *Store) getTx(ctx context.Context, tx *bolt.Tx, ref string) (*Image, error) {
	l, err := parseLookup(ref)
	if err != nil {
		return nil, err
	}
	if l.id != "" {
		img, err := getImage(tx, l.id)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, &NotFoundError{Ref: l.display}
		}
		return img, err
	}
	if l.key != "" {
		var id digest.Digest
		err := metadata.GetJSON(tx, metadata.BucketTags, l.key, &id)
		if err == nil {
			return getImage(tx, id)
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		if c, ok := l.named.(reference.Canonical); ok {
			// name@digest also finds an image of that repository whose
			// manifest (or config) has the digest.
			if img, err := findByDigest(tx, c); img != nil || err != nil {
				return img, err
			}
		}
	}
	if l.prefix != "" {
		var matches []digest.Digest
		err := metadata.ForEach(tx, metadata.BucketImages, func(key string, _ []byte) error {
			if strings.HasPrefix(strings.TrimPrefix(key, "sha256:"), l.prefix) {
				matches = append(matches, digest.Digest(key))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("search images: %w", err)
		}
		if len(matches) == 1 {
			return getImage(tx, matches[0])
		}
		if len(matches) > 1 {
			log.From(ctx).Debug("ambiguous image ID prefix", "image", ref, "matches", len(matches))
		}
	}
	return nil, &NotFoundError{Ref: l.display}
}

// findByDigest returns the image of c's repository whose manifest digest or ID
// is c's digest, or nil.
func findByDigest(tx *bolt.Tx, c reference.Canonical) (*Image, error) {
	var found *Image
	err := metadata.ForEach(tx, metadata.BucketImages, func(_ string, raw []byte) error {
		var img Image
		if err := json.Unmarshal(raw, &img); err != nil {
			return nil
		}
		if img.ManifestDigest != c.Digest() && img.ID != c.Digest() {
			return nil
		}
		for _, t := range img.RepoTags {
			if n, err := reference.ParseNormalizedNamed(t); err == nil && n.Name() == c.Name() {
				found = &img
				return metadata.ErrStop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, metadata.ErrStop) {
		return nil, err
	}
	return found, nil
}

func getImage(tx *bolt.Tx, id digest.Digest) (*Image, error) {
	var img Image
	if err := metadata.GetJSON(tx, metadata.BucketImages, id.String(), &img); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	return &img, nil
}

// Images returns every image record, sorted by ID.
func (s *Store) Images(ctx context.Context) ([]*Image, error) {
	var out []*Image
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = allImages(tx)
		return err
	})
	return out, err
}

func allImages(tx *bolt.Tx) ([]*Image, error) {
	var out []*Image
	err := metadata.ForEach(tx, metadata.BucketImages, func(key string, raw []byte) error {
		var img Image
		if err := json.Unmarshal(raw, &img); err != nil {
			return fmt.Errorf("decode image %s: %w", key, err)
		}
		out = append(out, &img)
		return nil
	})
	return out, err
}

// putImage stores img, keeping its tag lists sorted.
func putImage(tx *bolt.Tx, img *Image) error {
	slices.Sort(img.RepoTags)
	img.RepoTags = slices.Compact(img.RepoTags)
	slices.Sort(img.RepoDigests)
	img.RepoDigests = slices.Compact(img.RepoDigests)
	return metadata.PutJSON(tx, metadata.BucketImages, img.ID.String(), img)
}
