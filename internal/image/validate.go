package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"berth/internal/metadata"
	"berth/internal/snapshot"
)

// Validate checks the invariants of the image id and returns every
// violation found, joined: the config blob is present and has the ID as its
// digest, its diff IDs match the layer records and their chain IDs, every
// layer is unpacked and its blob present, the manifest blob names the config
// and the layer blobs, and the tags bucket and the record's tag lists agree.
// Tests call it after every import, load and save.
func (s *Store) Validate(ctx context.Context, id digest.Digest) error {
	var img *Image
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if img, err = getImage(tx, id); err != nil {
			return err
		}
		for _, t := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			n, err := reference.ParseNormalizedNamed(t)
			if err != nil {
				fail("bad reference %q: %v", t, err)
				continue
			}
			var got digest.Digest
			if err := metadata.GetJSON(tx, metadata.BucketTags, n.String(), &got); err != nil || got != id {
				fail("tags bucket: %s → %q (%v), want %s", n, got, err, id)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	config, err := s.readBlob(id)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("config blob: %w", err))...)
	}
	if digest.FromBytes(config) != id {
		fail("config blob digest %s, want %s", digest.FromBytes(config), id)
	}
	var cfg configFile
	if err := json.Unmarshal(config, &cfg); err != nil {
		fail("config: %v", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(img.Layers) {
		fail("config has %d diff IDs, record %d layers", len(cfg.RootFS.DiffIDs), len(img.Layers))
	} else {
		chains := snapshot.ChainIDs(cfg.RootFS.DiffIDs)
		for i, l := range img.Layers {
			if l.DiffID != cfg.RootFS.DiffIDs[i] || l.ChainID != chains[i] {
				fail("layer %d: diff ID %s chain %s, want %s %s", i, l.DiffID, l.ChainID, cfg.RootFS.DiffIDs[i], chains[i])
			}
			if !s.snap.HasLayer(l.ChainID) {
				fail("layer %d: %s not unpacked", i, l.ChainID)
			}
			if size, err := s.cs.Info(l.Digest); err != nil || size != l.Size {
				fail("layer %d: blob %s: size %d (%v), want %d", i, l.Digest, size, err, l.Size)
			}
		}
	}
	if img.ManifestDigest == "" {
		fail("no manifest")
	} else if mb, err := s.readBlob(img.ManifestDigest); err != nil {
		fail("manifest blob: %v", err)
	} else {
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			fail("manifest: %v", err)
		} else {
			if m.Config.Digest != id {
				fail("manifest config %s, want %s", m.Config.Digest, id)
			}
			if len(m.Layers) != len(img.Layers) {
				fail("manifest has %d layers, want %d", len(m.Layers), len(img.Layers))
			} else {
				for i, l := range m.Layers {
					if l.Digest != img.Layers[i].Digest {
						fail("manifest layer %d: %s, want %s", i, l.Digest, img.Layers[i].Digest)
					}
				}
			}
		}
	}
	return errors.Join(errs...)
}
