package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"berth/internal/archive"
)

// Import creates a one-layer image from r, a root file system tar (plain,
// gzip or zstd), as `docker import` does. changes are Dockerfile
// instructions applied to an empty config (see ApplyChanges); message is the
// config's and the history entry's comment ("Imported from -" when empty, as
// dockerd writes for a tar read from the request body; a caller importing
// from a URL passes "Imported from URL"). ref, when not empty, tags the
// image. The input is read once: it is stored as the layer blob as it came
// while its decompressed form is hashed to get the diff ID, then the layer is
// unpacked from the stored blob unless an identical layer is already
// present. It emits "tag" (when ref is given) and "import" events.
func (s *Store) Import(ctx context.Context, r io.Reader, ref string, changes []string, message string) (*Image, error) {
	var tag reference.NamedTagged
	if ref != "" {
		var err error
		if tag, err = ParseTag(ref); err != nil {
			return nil, err
		}
	}
	if message == "" {
		message = "Imported from -"
	}
	created := s.now().UTC()
	cfg := newConfig(created, runtime.GOARCH)
	if err := ApplyChanges(&cfg.Config, changes); err != nil {
		return nil, err
	}
	cfg.Comment = message
	cfg.History = []ocispec.History{{Created: &created, Comment: message}}

	s.mu.RLock()
	defer s.mu.RUnlock()
	blob, diffID, err := s.ingestLayer(ctx, r)
	if err != nil {
		return nil, err
	}
	cfg.RootFS.DiffIDs = []digest.Digest{diffID}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	img, err := s.create(ctx, config, []ocispec.Descriptor{blob}, "")
	if err != nil {
		return nil, err
	}
	if tag != nil {
		err = s.db.Update(func(tx *bolt.Tx) error {
			cur, err := getImage(tx, img.ID)
			if err != nil {
				return err
			}
			if _, err := s.setRefTx(tx, tag, cur); err != nil {
				return err
			}
			img = cur
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if tag != nil {
		s.publish(events.ActionTag, img.ID.String(), reference.FamiliarString(tag), img.Config.Config.Labels)
	}
	s.publish(events.ActionImport, img.ID.String(), img.ID.String(), img.Config.Config.Labels)
	return img, nil
}

// ingestLayer stores r as a layer blob as it comes and returns its
// descriptor and the digest of its decompressed content.
func (s *Store) ingestLayer(ctx context.Context, r io.Reader) (ocispec.Descriptor, digest.Digest, error) {
	w, err := s.cs.Writer(ctx)
	if err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("import: %w", err)
	}
	defer w.Close()
	head := &headSniffer{}
	pr, pw := io.Pipe()
	type result struct {
		d   digest.Digest
		err error
	}
	done := make(chan result, 1)
	go func() {
		dr, err := archive.DecompressStream(pr)
		if err != nil {
			pr.CloseWithError(err)
			done <- result{err: invalid("import: %v", err)}
			return
		}
		dg := digest.Canonical.Digester()
		_, err = io.Copy(dg.Hash(), dr)
		dr.Close()
		if err != nil {
			pr.CloseWithError(err)
			done <- result{err: invalid("import: decompress: %v", err)}
			return
		}
		// Drain what follows the compressed stream.
		_, _ = io.Copy(io.Discard, pr)
		done <- result{d: dg.Digest()}
	}()
	_, copyErr := io.Copy(io.MultiWriter(w, pw, head), &ctxReader{ctx: ctx, r: r})
	pw.CloseWithError(copyErr)
	res := <-done
	if res.err != nil {
		return ocispec.Descriptor{}, "", res.err
	}
	if copyErr != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("import: read: %w", copyErr)
	}
	d, size, err := w.Commit(ctx, "", -1)
	if err != nil {
		return ocispec.Descriptor{}, "", fmt.Errorf("import: store layer: %w", err)
	}
	desc := ocispec.Descriptor{
		MediaType: layerMediaType(archive.DetectCompression(head.b)),
		Digest:    d,
		Size:      size,
	}
	return desc, res.d, nil
}

// headSniffer keeps the first bytes written to it, for compression detection.
type headSniffer struct{ b []byte }

func (h *headSniffer) Write(p []byte) (int, error) {
	if n := 8 - len(h.b); n > 0 {
		h.b = append(h.b, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
