package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"berth/internal/archive"
	"berth/internal/log"
	"berth/internal/snapshot"
)

// Media types of layer blobs as they are stored.
const (
	mediaTypeLayer     = ocispec.MediaTypeImageLayer
	mediaTypeLayerGzip = ocispec.MediaTypeImageLayerGzip
	mediaTypeLayerZstd = ocispec.MediaTypeImageLayerZstd
	// maxConfigSize bounds config, manifest and index JSON read into memory.
	maxConfigSize = 16 << 20
)

// configFile is the config blob: the OCI config with Docker's extensions and
// its top-level "comment".
type configFile struct {
	dockerspec.DockerOCIImage
	Comment string `json:"comment,omitempty"`
}

// layerMediaType returns the OCI media type for a blob of compression c.
func layerMediaType(c archive.Compression) string {
	switch c {
	case archive.Gzip:
		return mediaTypeLayerGzip
	case archive.Zstd:
		return mediaTypeLayerZstd
	case archive.Bzip2:
		// Not an OCI type: kept so that the blob is never taken for a tar.
		return mediaTypeLayer + "+bzip2"
	}
	return mediaTypeLayer
}

// Create records an image whose config and layer blobs are already in the
// content store: config is the config blob's content, layers describe the
// layer blobs bottom first (they must match the config's diff IDs), and
// manifestDigest names a manifest blob for them ("" to generate one). Layers
// missing from the snapshotter are unpacked from their blobs, verifying each
// diff ID. An image already present keeps its tags. Create emits no event;
// callers (pull, build, commit) publish their own.
func (s *Store) Create(ctx context.Context, config []byte, layers []ocispec.Descriptor, manifestDigest digest.Digest) (*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.create(ctx, config, layers, manifestDigest)
}

// create is Create with s.mu held (shared).
func (s *Store) create(ctx context.Context, config []byte, layers []ocispec.Descriptor, manifestDigest digest.Digest) (*Image, error) {
	var cfg configFile
	if err := json.Unmarshal(config, &cfg); err != nil {
		return nil, invalid("invalid image config: %v", err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if cfg.RootFS.Type != "" && cfg.RootFS.Type != "layers" {
		return nil, invalid("invalid image config: unsupported rootfs type %q", cfg.RootFS.Type)
	}
	if len(diffIDs) != len(layers) {
		return nil, invalid("invalid manifest, layers length mismatch: expected %d, got %d", len(diffIDs), len(layers))
	}
	for _, d := range diffIDs {
		if err := d.Validate(); err != nil {
			return nil, invalid("invalid image config: diff ID %q: %v", d, err)
		}
	}
	id, err := s.cs.WriteBlob(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	known, err := s.knownLayers(ctx)
	if err != nil {
		return nil, err
	}
	chains := snapshot.ChainIDs(diffIDs)
	img := &Image{ID: id, Config: cfg.DockerOCIImage, Comment: cfg.Comment}
	if cfg.Created != nil {
		img.Created = cfg.Created.UTC()
	}
	var parent digest.Digest
	for i, desc := range layers {
		l := Layer{
			DiffID:    diffIDs[i],
			ChainID:   chains[i],
			Digest:    desc.Digest,
			MediaType: desc.MediaType,
			Size:      desc.Size,
		}
		if prev, ok := known[l.ChainID]; ok {
			l.DiffSize, l.UnpackedSize = prev.DiffSize, prev.UnpackedSize
		}
		if err := s.unpackLayer(ctx, parent, &l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l.DiffID, err)
		}
		img.Layers = append(img.Layers, l)
		img.Size += l.UnpackedSize
		parent = l.ChainID
	}
	if manifestDigest == "" {
		manifestDigest, err = s.writeManifest(ctx, img, int64(len(config)))
		if err != nil {
			return nil, err
		}
	}
	img.ManifestDigest = manifestDigest
	err = s.db.Update(func(tx *bolt.Tx) error {
		if old, err := getImage(tx, id); err == nil {
			img.RepoTags, img.RepoDigests, img.LastTagTime = old.RepoTags, old.RepoDigests, old.LastTagTime
			if img.ManifestDigest == "" {
				img.ManifestDigest = old.ManifestDigest
			}
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		return putImage(tx, img)
	})
	if err != nil {
		return nil, fmt.Errorf("record image %s: %w", id, err)
	}
	log.From(ctx).Debug("image created", "image", id.String())
	return img, nil
}

// knownLayers maps the chain IDs of recorded images to their layer records,
// for the sizes of layers that are already unpacked.
func (s *Store) knownLayers(ctx context.Context) (map[digest.Digest]Layer, error) {
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]Layer{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			out[l.ChainID] = l
		}
	}
	return out, nil
}

// writeManifest stores an OCI image manifest for img's config and layer blobs
// and returns its digest.
func (s *Store) writeManifest(ctx context.Context, img *Image, configSize int64) (digest.Digest, error) {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ID, Size: configSize},
		Layers:    []ocispec.Descriptor{},
	}
	for _, l := range img.Layers {
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode manifest: %w", err)
	}
	d, err := s.cs.WriteBlob(ctx, b)
	if err != nil {
		return "", fmt.Errorf("store manifest: %w", err)
	}
	return d, nil
}

// unpackLayer makes sure the layer l.ChainID exists in the snapshotter,
// unpacking it on top of parent from the blob l.Digest when it does not, and
// fills in l's sizes. The decompressed stream must have the digest l.DiffID.
func (s *Store) unpackLayer(ctx context.Context, parent digest.Digest, l *Layer) error {
	if s.snap.HasLayer(l.ChainID) && (l.DiffSize != 0 || l.UnpackedSize != 0) {
		return nil
	}
	f, err := s.cs.Open(l.Digest)
	if err != nil {
		return fmt.Errorf("open layer blob: %w", err)
	}
	defer f.Close()
	if l.MediaType == "" {
		l.MediaType = mediaTypeLayer
	}
	if l.Size == 0 {
		if st, err := f.Stat(); err == nil {
			l.Size = st.Size()
		}
	}
	dr, err := archive.DecompressStream(f)
	if err != nil {
		return invalid("decompress layer: %v", err)
	}
	defer dr.Close()
	diffSize, unpacked, err := s.applyVerified(ctx, parent, l.ChainID, l.DiffID, dr)
	if err != nil {
		return err
	}
	l.DiffSize, l.UnpackedSize = diffSize, unpacked
	return nil
}

// applyVerified unpacks the uncompressed tar r as layer chainID (when it is
// not present yet), verifying that r has the digest diffID. It returns the
// tar's length and the sum of the sizes of its files (Docker's layer size).
// A present layer is measured without being unpacked again.
func (s *Store) applyVerified(ctx context.Context, parent, chainID, diffID digest.Digest, r io.Reader) (int64, int64, error) {
	verifier := diffID.Verifier()
	pr, pw := io.Pipe()
	sizes := make(chan int64, 1)
	go func() { sizes <- tarFileSizes(pr) }()
	tee := io.TeeReader(r, io.MultiWriter(verifier, pw))
	var counted int64
	var err error
	if s.snap.HasLayer(chainID) {
		counted, err = io.Copy(io.Discard, tee)
	} else {
		var n int64
		n, err = s.snap.ApplyLayer(ctx, parent, chainID, &eofCheck{r: tee, verifier: verifier, diffID: diffID})
		if err == nil {
			// Read any trailing bytes after the tar's end-of-archive.
			var rest int64
			rest, err = io.Copy(io.Discard, tee)
			counted = n + rest
		}
	}
	pw.CloseWithError(err)
	fileSizes := <-sizes
	if err != nil {
		return 0, 0, fmt.Errorf("unpack: %w", err)
	}
	if !verifier.Verified() {
		if rmErr := s.snap.RemoveLayer(context.WithoutCancel(ctx), chainID); rmErr != nil && !errors.Is(rmErr, errdefs.ErrNotFound) {
			log.From(ctx).Warn("remove unverified layer", "digest", chainID.String(), "err", rmErr)
		}
		return 0, 0, invalid("layer content does not match diff ID %s", diffID)
	}
	return counted, fileSizes, nil
}

// eofCheck fails the read that reaches EOF when the stream does not have
// the expected digest, so that the snapshotter never publishes a bad layer.
type eofCheck struct {
	r        io.Reader
	verifier digest.Verifier
	diffID   digest.Digest
}

func (e *eofCheck) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.verifier.Verified() {
		return n, invalid("layer content does not match diff ID %s", e.diffID)
	}
	return n, err
}

// tarFileSizes sums the sizes of the regular files in the tar r, then drains
// r (so the writer of a pipe never blocks).
func tarFileSizes(r io.Reader) int64 {
	var total int64
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeReg && h.Size > 0 {
			total += h.Size
		}
	}
	_, _ = io.Copy(io.Discard, r)
	return total
}

// newConfig returns an image config with the host's platform and now as its
// creation time.
func newConfig(created time.Time, arch string) configFile {
	var c configFile
	c.Created = &created
	c.Architecture = arch
	c.OS = "linux"
	c.RootFS.Type = "layers"
	c.RootFS.DiffIDs = []digest.Digest{}
	return c
}

// readBlob reads a small blob (config, manifest, index) into memory.
func (s *Store) readBlob(d digest.Digest) ([]byte, error) {
	f, err := s.cs.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if len(b) > maxConfigSize {
		return nil, invalid("blob %s exceeds %d bytes", d, maxConfigSize)
	}
	return b, nil
}
