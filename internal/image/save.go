package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/archive"
)

// saveEntry is one image to save with the tags to write for it.
type saveEntry struct {
	img  *Image
	tags []reference.NamedTagged
}

// Save writes the images that refs name to w in the format docker 25+
// `docker save` writes: an OCI image layout (oci-layout, index.json,
// blobs/sha256/…) plus Docker's manifest.json and repositories. A ref that is
// a bare name ("busybox") saves every tag of that repository, as Docker
// does; an ID saves the image without tags.
//
// Every layer is written as an uncompressed tar blob named by its diff ID,
// since Docker's manifest.json lists uncompressed layers and older docker
// load cannot read others. Blobs stored compressed are decompressed on the
// fly (and verified against the diff ID as they stream); the manifest
// written then describes the uncompressed blobs, so it differs from the
// image's own ManifestDigest, which is reused only when all its layers are
// uncompressed already. The image ID (the config digest) always round-trips.
// It emits a "save" event per image.
func (s *Store) Save(ctx context.Context, w io.Writer, refs []string) error {
	entries, err := s.saveEntries(ctx, refs)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0).UTC()
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	written := map[digest.Digest]bool{}
	var items []manifestItem
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	repos := map[string]map[string]string{}
	for _, e := range entries {
		mdesc, layerPaths, err := s.saveImage(ctx, tw, e.img, written)
		if err != nil {
			return err
		}
		item := manifestItem{Config: blobPath(e.img.ID), RepoTags: []string{}, Layers: layerPaths}
		for _, t := range e.tags {
			familiar := reference.FamiliarString(t)
			item.RepoTags = append(item.RepoTags, familiar)
			d := mdesc
			d.Annotations = map[string]string{
				annotationImageName:       t.String(),
				ocispec.AnnotationRefName: t.Tag(),
			}
			index.Manifests = append(index.Manifests, d)
			if len(e.img.Layers) > 0 {
				name := reference.FamiliarName(t)
				if repos[name] == nil {
					repos[name] = map[string]string{}
				}
				repos[name][t.Tag()] = e.img.Layers[len(e.img.Layers)-1].DiffID.Encoded()
			}
		}
		if len(e.tags) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		items = append(items, item)
	}
	files := []struct {
		name string
		v    any
	}{
		{indexFileName, index},
		{manifestFileName, items},
		{ociLayoutFileName, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
	}
	if len(repos) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{repositoriesFileName, repos})
	}
	for _, f := range files {
		b, err := json.Marshal(f.v)
		if err != nil {
			return fmt.Errorf("save: encode %s: %w", f.name, err)
		}
		if err := writeTarFile(tw, f.name, append(b, '\n')); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	for _, e := range entries {
		s.publish(events.ActionSave, e.img.ID.String(), e.img.ID.String(), e.img.Config.Config.Labels)
	}
	return nil
}

// saveEntries resolves refs into images and the tags to save with them, in
// the order given, each image once.
func (s *Store) saveEntries(ctx context.Context, refs []string) ([]*saveEntry, error) {
	if len(refs) == 0 {
		return nil, invalid("no images specified")
	}
	var out []*saveEntry
	byID := map[digest.Digest]*saveEntry{}
	add := func(img *Image, tag reference.NamedTagged) {
		e := byID[img.ID]
		if e == nil {
			e = &saveEntry{img: img}
			byID[img.ID] = e
			out = append(out, e)
		}
		if tag != nil && !slices.ContainsFunc(e.tags, func(t reference.NamedTagged) bool { return t.String() == tag.String() }) {
			e.tags = append(e.tags, tag)
		}
	}
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		// A bare name saves every tag of the repository.
		if named, err := reference.ParseNormalizedNamed(ref); err == nil && reference.IsNameOnly(named) {
			found := false
			for _, img := range imgs {
				for _, t := range img.RepoTags {
					tn, err := reference.ParseNormalizedNamed(t)
					if err != nil || tn.Name() != named.Name() {
						continue
					}
					if tagged, ok := tn.(reference.NamedTagged); ok {
						add(img, tagged)
						found = true
					}
				}
			}
			if found {
				continue
			}
		}
		img, err := s.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		var tag reference.NamedTagged
		if l, err := parseLookup(ref); err == nil && l.named != nil {
			if t, ok := l.named.(reference.NamedTagged); ok && slices.Contains(img.RepoTags, reference.FamiliarString(t)) {
				tag = t
			}
		}
		add(img, tag)
	}
	return out, nil
}

// saveImage writes the config, layer and manifest blobs of img that were not
// written yet, and returns the manifest's descriptor and the layer paths for
// manifest.json.
func (s *Store) saveImage(ctx context.Context, tw *tar.Writer, img *Image, written map[digest.Digest]bool) (ocispec.Descriptor, []string, error) {
	config, err := s.readBlob(img.ID)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("save %s: config: %w", img.ID, err)
	}
	if !written[img.ID] {
		if err := writeTarFile(tw, blobPath(img.ID), config); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
		written[img.ID] = true
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: img.ID, Size: int64(len(config))},
		Layers:    []ocispec.Descriptor{},
	}
	paths := []string{}
	allPlain := true
	for _, l := range img.Layers {
		size, err := s.saveLayer(ctx, tw, l, written)
		if err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("save %s: layer %s: %w", img.ID, l.DiffID, err)
		}
		if l.Digest != l.DiffID {
			allPlain = false
		}
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: l.DiffID, Size: size})
		paths = append(paths, blobPath(l.DiffID))
	}
	var mb []byte
	if allPlain && img.ManifestDigest != "" {
		mb, _ = s.readBlob(img.ManifestDigest)
	}
	if mb == nil {
		if mb, err = json.Marshal(m); err != nil {
			return ocispec.Descriptor{}, nil, fmt.Errorf("save: encode manifest: %w", err)
		}
	}
	md := digest.FromBytes(mb)
	if !written[md] {
		if err := writeTarFile(tw, blobPath(md), mb); err != nil {
			return ocispec.Descriptor{}, nil, err
		}
		written[md] = true
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mb))}
	return desc, paths, nil
}

// saveLayer writes the uncompressed tar of l as blobs/sha256/<diffID hex>
// (once per archive) and returns its length.
func (s *Store) saveLayer(ctx context.Context, tw *tar.Writer, l Layer, written map[digest.Digest]bool) (int64, error) {
	size := l.DiffSize
	if l.Digest == l.DiffID && l.Size > 0 {
		size = l.Size
	}
	if size == 0 {
		// Unknown length: measure the decompressed stream first.
		n, err := s.measureLayer(ctx, l)
		if err != nil {
			return 0, err
		}
		size = n
	}
	if written[l.DiffID] {
		return size, nil
	}
	f, err := s.cs.Open(l.Digest)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dr, err := archive.DecompressStream(&ctxReader{ctx: ctx, r: f})
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: blobPath(l.DiffID), Mode: 0o644, Size: size, ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return 0, err
	}
	verifier := l.DiffID.Verifier()
	n, err := io.Copy(tw, io.TeeReader(io.LimitReader(dr, size+1), verifier))
	if err != nil {
		return 0, err
	}
	if n != size || !verifier.Verified() {
		return 0, fmt.Errorf("stored layer does not match its diff ID (%d of %d bytes)", n, size)
	}
	written[l.DiffID] = true
	return size, nil
}

// measureLayer returns the length of l's decompressed tar.
func (s *Store) measureLayer(ctx context.Context, l Layer) (int64, error) {
	f, err := s.cs.Open(l.Digest)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dr, err := archive.DecompressStream(&ctxReader{ctx: ctx, r: f})
	if err != nil {
		return 0, err
	}
	defer dr.Close()
	return io.Copy(io.Discard, dr)
}

func writeTarFile(tw *tar.Writer, name string, b []byte) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0).UTC(), Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("save %s: %w", name, err)
	}
	return nil
}
