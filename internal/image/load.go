package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"berth/internal/archive"
	"berth/internal/log"
)

// Names of the files of Docker's archive format and of OCI image layouts.
const (
	manifestFileName     = "manifest.json"
	repositoriesFileName = "repositories"
	indexFileName        = "index.json"
	ociLayoutFileName    = "oci-layout"

	// annotationImageName is containerd's (and docker 25+'s) full name
	// annotation in index.json.
	annotationImageName = "io.containerd.image.name"

	maxArchiveEntries = 1 << 17
	maxArchiveName    = 4096
	maxLinkHops       = 40
)

// manifestItem is one entry of Docker's manifest.json.
type manifestItem struct {
	Config       string
	RepoTags     []string
	Layers       []string
	Parent       string                               `json:",omitempty"`
	LayerSources map[digest.Digest]ocispec.Descriptor `json:",omitempty"`
}

// archiveFile is a regular file of the archive, staged as a blob.
type archiveFile struct {
	digest digest.Digest
	size   int64
}

// loadState is what Load learned from the archive's entries.
type loadState struct {
	files  map[string]archiveFile
	links  map[string]string // symlink → target as written
	hard   map[string]string // hard link → archive path
	small  map[string][]byte // manifest.json, index.json, repositories, oci-layout
	staged map[digest.Digest]bool
}

// Load reads a `docker save` archive (the legacy layout with <id>/layer.tar
// and the OCI layout docker 25+ writes) or a plain OCI image layout from r
// and creates its images, tagging them as the archive says. It reports
// Docker's lines through w ("Loaded image: busybox:latest", or "Loaded image
// ID: sha256:…" for an image without tags, and "The image … already exists,
// renaming the old one …" when a tag moves). w may be nil.
//
// The tar is read once: every regular file is staged into the content store
// as it streams by (files named blobs/<alg>/<hex> verified against their
// names), then the images are assembled from the staged blobs. Nothing is
// ever extracted: names with "..", absolute names, entries below a symlink,
// links leading out of the archive and manifests naming missing files are
// errdefs.ErrInvalidArgument. Staged blobs no image uses are removed again.
// It emits a "load" event per image.
func (s *Store) Load(ctx context.Context, r io.Reader, w func(msg string)) error {
	if w == nil {
		w = func(string) {}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls := &loadState{
		files:  map[string]archiveFile{},
		links:  map[string]string{},
		hard:   map[string]string{},
		small:  map[string][]byte{},
		staged: map[digest.Digest]bool{},
	}
	defer s.cleanupStaged(ctx, ls.staged)
	if err := s.readArchive(ctx, r, ls); err != nil {
		return err
	}
	switch {
	case ls.small[manifestFileName] != nil:
		return s.loadDockerArchive(ctx, ls, w)
	case ls.small[indexFileName] != nil:
		return s.loadOCILayout(ctx, ls, w)
	case ls.small[repositoriesFileName] != nil:
		return invalid("invalid archive: legacy (pre-1.10) image archives without manifest.json are not supported")
	}
	return invalid("invalid archive: no manifest.json or index.json found")
}

// readArchive walks the tar, staging regular files and recording links.
func (s *Store) readArchive(ctx context.Context, r io.Reader, ls *loadState) error {
	tr := tar.NewReader(&ctxReader{ctx: ctx, r: r})
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return invalid("invalid archive: %v", err)
		}
		if n >= maxArchiveEntries {
			return invalid("invalid archive: more than %d entries", maxArchiveEntries)
		}
		name, err := archivePath(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		if link := ls.linkPrefix(name); link != "" {
			return invalid("invalid archive: entry %q is below the link %q", h.Name, link)
		}
		delete(ls.files, name)
		delete(ls.links, name)
		delete(ls.hard, name)
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeSymlink:
			ls.links[name] = h.Linkname
		case tar.TypeLink:
			target, err := archivePath(h.Linkname)
			if err != nil {
				return err
			}
			ls.hard[name] = target
		case tar.TypeReg:
			if err := s.stageFile(ctx, tr, h, name, ls); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
		default:
			return invalid("invalid archive: entry %q has unsupported type %q", h.Name, string(h.Typeflag))
		}
	}
}

// archivePath cleans the name of an archive entry (or of a file a manifest
// names) into a relative slash path; absolute names and ".." are rejected.
func archivePath(name string) (string, error) {
	if len(name) > maxArchiveName || strings.IndexByte(name, 0) >= 0 {
		return "", invalid("invalid archive: bad entry name %.100q", name)
	}
	if strings.HasPrefix(name, "/") {
		return "", invalid("invalid archive: absolute path %q", name)
	}
	var parts []string
	for p := range strings.SplitSeq(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", invalid("invalid archive: path %q escapes the archive", name)
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// linkPrefix returns the proper prefix of name that is a link, or "".
func (ls *loadState) linkPrefix(name string) string {
	for i := range len(name) {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		if _, ok := ls.links[p]; ok {
			return p
		}
		if _, ok := ls.hard[p]; ok {
			return p
		}
	}
	return ""
}

// stageFile keeps the small top-level files in memory and stores every
// other regular file in the content store.
func (s *Store) stageFile(ctx context.Context, tr io.Reader, h *tar.Header, name string, ls *loadState) error {
	switch name {
	case manifestFileName, repositoriesFileName, indexFileName, ociLayoutFileName:
		if h.Size > maxConfigSize {
			return invalid("invalid archive: %s exceeds %d bytes", name, maxConfigSize)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxConfigSize))
		if err != nil {
			return invalid("invalid archive: read %s: %v", name, err)
		}
		ls.small[name] = b
		return nil
	}
	if expected, ok := blobName(name); ok {
		if size, err := s.cs.Info(expected); err == nil {
			// Already stored (and verified then); the tar reader skips the body.
			ls.files[name] = archiveFile{digest: expected, size: size}
			return nil
		}
		d, size, err := s.cs.Ingest(ctx, tr, expected, h.Size)
		if err != nil {
			if errors.Is(err, errdefs.ErrInvalidArgument) {
				return invalid("invalid archive: %s: %v", name, err)
			}
			return fmt.Errorf("load: stage %s: %w", name, err)
		}
		ls.staged[d] = true
		ls.files[name] = archiveFile{digest: d, size: size}
		return nil
	}
	cw, err := s.cs.Writer(ctx)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer cw.Close()
	dg := digest.Canonical.Digester()
	n, err := io.Copy(io.MultiWriter(cw, dg.Hash()), tr)
	if err != nil {
		return invalid("invalid archive: read %s: %v", name, err)
	}
	d := dg.Digest()
	_, infoErr := s.cs.Info(d)
	if _, _, err := cw.Commit(ctx, d, n); err != nil {
		return fmt.Errorf("load: stage %s: %w", name, err)
	}
	if infoErr != nil {
		ls.staged[d] = true
	}
	ls.files[name] = archiveFile{digest: d, size: n}
	return nil
}

// blobName returns the digest of an OCI layout blob path
// "blobs/<alg>/<hex>".
func blobName(name string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(name, "blobs/")
	if !ok {
		return "", false
	}
	alg, hex, ok := strings.Cut(rest, "/")
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hex)
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

// blobPath is the inverse of blobName.
func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// resolve finds the staged file that the archive path p names, following
// symlinks and hard links inside the archive.
func (ls *loadState) resolve(p string) (archiveFile, error) {
	cur, err := archivePath(p)
	if err != nil {
		return archiveFile{}, err
	}
	for range maxLinkHops {
		if f, ok := ls.files[cur]; ok {
			return f, nil
		}
		if t, ok := ls.hard[cur]; ok {
			cur = t
			continue
		}
		link, target, ok := ls.linkAt(cur)
		if !ok {
			return archiveFile{}, invalid("invalid archive: %q is missing", p)
		}
		if strings.HasPrefix(target, "/") {
			return archiveFile{}, invalid("invalid archive: symlink %q points outside the archive", link)
		}
		joined, ok := joinInside(path.Dir(link), target)
		if !ok {
			return archiveFile{}, invalid("invalid archive: symlink %q points outside the archive", link)
		}
		cur = joined + strings.TrimPrefix(cur, link)
		cur = strings.TrimPrefix(cur, "/")
	}
	return archiveFile{}, invalid("invalid archive: too many levels of symbolic links resolving %q", p)
}

// linkAt returns the symlink that is p or a prefix of p, and its target.
func (ls *loadState) linkAt(p string) (string, string, bool) {
	if t, ok := ls.links[p]; ok {
		return p, t, true
	}
	for i := range len(p) {
		if p[i] == '/' {
			if t, ok := ls.links[p[:i]]; ok {
				return p[:i], t, true
			}
		}
	}
	return "", "", false
}

// joinInside joins a relative target to dir and cleans it, reporting false
// when ".." would climb above the archive root.
func joinInside(dir, target string) (string, bool) {
	var parts []string
	if dir != "." && dir != "" {
		parts = strings.Split(dir, "/")
	}
	for p := range strings.SplitSeq(target, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", false
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), true
}

// layerDescriptor describes a staged layer blob, detecting its compression.
func (s *Store) layerDescriptor(f archiveFile) (ocispec.Descriptor, error) {
	rc, err := s.cs.Open(f.digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("open layer: %w", err)
	}
	defer rc.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(rc, head)
	return ocispec.Descriptor{
		MediaType: layerMediaType(archive.DetectCompression(head[:n])),
		Digest:    f.digest,
		Size:      f.size,
	}, nil
}

// loadDockerArchive assembles the images manifest.json lists.
func (s *Store) loadDockerArchive(ctx context.Context, ls *loadState, w func(string)) error {
	var items []manifestItem
	if err := json.Unmarshal(ls.small[manifestFileName], &items); err != nil {
		return invalid("invalid archive: manifest.json: %v", err)
	}
	manifests := ls.indexManifests(s)
	for _, item := range items {
		cf, err := ls.resolve(item.Config)
		if err != nil {
			return err
		}
		config, err := s.readBlob(cf.digest)
		if err != nil {
			return err
		}
		var descs []ocispec.Descriptor
		for _, lp := range item.Layers {
			lf, err := ls.resolve(lp)
			if err != nil {
				return err
			}
			desc, err := s.layerDescriptor(lf)
			if err != nil {
				return err
			}
			descs = append(descs, desc)
		}
		var tags []reference.NamedTagged
		for _, t := range item.RepoTags {
			tag, err := parseLoadedTag(t)
			if err != nil {
				return err
			}
			tags = append(tags, tag)
		}
		md := matchManifest(manifests, cf.digest, descs)
		if err := s.loadOne(ctx, config, descs, md, tags, w); err != nil {
			return err
		}
	}
	return nil
}

func parseLoadedTag(t string) (reference.NamedTagged, error) {
	named, err := reference.ParseNormalizedNamed(t)
	if err != nil {
		return nil, invalid("invalid archive: invalid tag %q: %v", t, err)
	}
	tag, ok := named.(reference.NamedTagged)
	if !ok {
		return nil, invalid("invalid archive: invalid tag %q", t)
	}
	return tag, nil
}

// indexed is a manifest found through index.json.
type indexed struct {
	desc     ocispec.Descriptor
	manifest ocispec.Manifest
	names    []string
}

// indexManifests reads the image manifests index.json leads to (through
// nested indexes, keeping the host platform). Unreadable ones are skipped.
func (ls *loadState) indexManifests(s *Store) []indexed {
	raw := ls.small[indexFileName]
	if raw == nil {
		return nil
	}
	var out []indexed
	var walk func(raw []byte, depth int)
	walk = func(raw []byte, depth int) {
		var idx ocispec.Index
		if depth > 4 || json.Unmarshal(raw, &idx) != nil {
			return
		}
		for _, d := range idx.Manifests {
			if d.Platform != nil && !hostPlatform(*d.Platform) {
				continue
			}
			f, err := ls.resolve(blobPath(d.Digest))
			if err != nil || f.digest != d.Digest {
				continue
			}
			b, err := s.readBlob(f.digest)
			if err != nil {
				continue
			}
			switch d.MediaType {
			case ocispec.MediaTypeImageIndex, "application/vnd.docker.distribution.manifest.list.v2+json":
				walk(b, depth+1)
				continue
			}
			var m ocispec.Manifest
			if json.Unmarshal(b, &m) != nil || m.Config.Digest == "" {
				continue
			}
			var names []string
			if n := d.Annotations[annotationImageName]; n != "" {
				names = append(names, n)
			} else if n := d.Annotations[ocispec.AnnotationRefName]; n != "" {
				names = append(names, n)
			}
			out = append(out, indexed{desc: d, manifest: m, names: names})
		}
	}
	walk(raw, 0)
	return out
}

func hostPlatform(p ocispec.Platform) bool {
	return (p.OS == "" || p.OS == "linux") && (p.Architecture == "" || p.Architecture == runtime.GOARCH)
}

// matchManifest returns the digest of an indexed manifest describing exactly
// this config and these layer blobs, or "".
func matchManifest(ms []indexed, config digest.Digest, layers []ocispec.Descriptor) digest.Digest {
	for _, m := range ms {
		if m.manifest.Config.Digest != config || len(m.manifest.Layers) != len(layers) {
			continue
		}
		if slices.EqualFunc(m.manifest.Layers, layers, func(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest }) {
			return m.desc.Digest
		}
	}
	return ""
}

// loadOCILayout assembles the images of a plain OCI image layout.
func (s *Store) loadOCILayout(ctx context.Context, ls *loadState, w func(string)) error {
	ms := ls.indexManifests(s)
	if len(ms) == 0 {
		return invalid("invalid archive: index.json lists no image for linux/%s", runtime.GOARCH)
	}
	for _, m := range ms {
		cf, err := ls.resolve(blobPath(m.manifest.Config.Digest))
		if err != nil {
			return err
		}
		config, err := s.readBlob(cf.digest)
		if err != nil {
			return err
		}
		var descs []ocispec.Descriptor
		for _, l := range m.manifest.Layers {
			lf, err := ls.resolve(blobPath(l.Digest))
			if err != nil {
				return err
			}
			desc, err := s.layerDescriptor(lf)
			if err != nil {
				return err
			}
			if l.MediaType != "" {
				desc.MediaType = l.MediaType
			}
			descs = append(descs, desc)
		}
		var tags []reference.NamedTagged
		for _, n := range m.names {
			// A bare ref name ("latest") has no repository to go with it.
			if tag, err := parseLoadedTag(n); err == nil && strings.ContainsAny(n, ":/") {
				tags = append(tags, tag)
			}
		}
		if err := s.loadOne(ctx, config, descs, m.desc.Digest, tags, w); err != nil {
			return err
		}
	}
	return nil
}

// loadOne creates one image, tags it and reports it.
func (s *Store) loadOne(ctx context.Context, config []byte, descs []ocispec.Descriptor, manifest digest.Digest, tags []reference.NamedTagged, w func(string)) error {
	img, err := s.create(ctx, config, descs, manifest)
	if err != nil {
		return err
	}
	var msgs []string
	err = s.db.Update(func(tx *bolt.Tx) error {
		msgs = msgs[:0]
		cur, err := getImage(tx, img.ID)
		if err != nil {
			return err
		}
		for _, t := range tags {
			prev, err := s.setRefTx(tx, t, cur)
			if err != nil {
				return err
			}
			if prev != "" {
				msgs = append(msgs, fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string", reference.FamiliarString(t), prev))
			}
			msgs = append(msgs, "Loaded image: "+reference.FamiliarString(t))
		}
		img = cur
		return nil
	})
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		msgs = append(msgs, "Loaded image ID: "+img.ID.String())
	}
	for _, m := range msgs {
		w(m)
	}
	s.publish(events.ActionLoad, img.ID.String(), img.ID.String(), img.Config.Config.Labels)
	return nil
}

// cleanupStaged deletes the staged blobs that no image record names.
func (s *Store) cleanupStaged(ctx context.Context, staged map[digest.Digest]bool) {
	if len(staged) == 0 {
		return
	}
	used, err := s.usedBlobs(ctx)
	if err != nil {
		log.From(ctx).Warn("load: clean staged blobs", "err", err)
		return
	}
	for d := range staged {
		if used[d] {
			continue
		}
		if err := s.cs.Delete(d); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			log.From(ctx).Warn("load: remove staged blob", "digest", d.String(), "err", err)
		}
	}
}

// usedBlobs returns the blobs that image records name: configs, manifests
// and layer blobs.
func (s *Store) usedBlobs(ctx context.Context) (map[digest.Digest]bool, error) {
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	used := map[digest.Digest]bool{}
	for _, img := range imgs {
		used[img.ID] = true
		if img.ManifestDigest != "" {
			used[img.ManifestDigest] = true
		}
		for _, l := range img.Layers {
			used[l.Digest] = true
		}
	}
	return used, nil
}
