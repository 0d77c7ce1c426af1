package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/archive"
	"berth/internal/log"
	"berth/internal/snapshot"
)

// PullOptions tune Pull.
type PullOptions struct {
	// Auth are the registry credentials (zero for anonymous).
	Auth registry.AuthConfig
	// Platform is picked from a manifest list; nil means the host's.
	Platform *ocispec.Platform
	// AllTags pulls every tag of the repository (ref must have no tag).
	AllTags bool
}

// Pull fetches ref ("busybox", "name:tag", "name@sha256:…") into the image
// store, tags it and records its repo digest, reporting progress as
// `docker pull` shows it. It returns the local image references it pulled
// (familiar form). Errors from the registry are classified: 401
// ErrUnauthenticated, 404 ErrNotFound, a bad blob ErrInvalidArgument.
func (c *Client) Pull(ctx context.Context, ref string, opts PullOptions, fn Progress) ([]string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("%v%w", err, classOnly{errdefs.ErrInvalidArgument})
	}
	p := newProgress(fn)
	want := HostPlatform()
	if opts.Platform != nil {
		want = *opts.Platform
	}
	if !opts.AllTags {
		named = reference.TagNameOnly(named)
		if err := c.pullRef(ctx, named, want, opts.Auth, p); err != nil {
			return nil, err
		}
		return []string{reference.FamiliarString(named)}, nil
	}
	if _, ok := named.(reference.NamedTagged); ok {
		return nil, fmt.Errorf("tag can't be used with --all-tags/-a: %w", errdefs.ErrInvalidArgument)
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, fmt.Errorf("tag can't be used with --all-tags/-a: %w", errdefs.ErrInvalidArgument)
	}
	tags, err := c.listTags(ctx, named, opts.Auth)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tags {
		tagged, err := reference.WithTag(named, t)
		if err != nil {
			continue
		}
		if err := c.pullRef(ctx, tagged, want, opts.Auth, p); err != nil {
			return out, err
		}
		out = append(out, reference.FamiliarString(tagged))
	}
	return out, nil
}

// pullRef pulls one tag or digest, trying the mirrors first.
func (c *Client) pullRef(ctx context.Context, named reference.Named, want ocispec.Platform, auth registry.AuthConfig, p *progress) error {
	eps, err := c.endpoints(named, true)
	if err != nil {
		return err
	}
	for i, ep := range eps {
		err = c.pullFrom(ctx, ep, named, want, auth, p)
		if err == nil || !ep.mirror || ctx.Err() != nil || i == len(eps)-1 {
			return err
		}
		log.From(ctx).Warn("mirror failed, trying the next endpoint", "image", named.String(), "mirror", ep.host, "err", err)
	}
	return err
}

func tagOrDigest(named reference.Named) string {
	if c, ok := named.(reference.Canonical); ok {
		return c.Digest().String()
	}
	if t, ok := named.(reference.Tagged); ok {
		return t.Tag()
	}
	return "latest"
}

// configDoc is the part of an image config a pull reads.
type configDoc struct {
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

func (c *Client) pullFrom(ctx context.Context, ep endpoint, named reference.Named, want ocispec.Platform, auth registry.AuthConfig, p *progress) error {
	s, err := c.open(ctx, ep, auth, []string{repoScope(ep.repo, "pull")})
	if err != nil {
		return pullError(named, err)
	}
	ref := tagOrDigest(named)
	p.status(ref, "Pulling from "+reference.Path(named))
	raw, mt, top, err := s.fetchManifest(ctx, ref, "")
	if err != nil {
		return pullError(named, err)
	}
	doc, mt, err := parseManifest(raw, mt)
	if err != nil {
		return err
	}
	manifestDigest := top
	if isIndex(mt) {
		desc, err := pickManifest(doc, want)
		if err != nil {
			return err
		}
		if raw, mt, manifestDigest, err = s.fetchManifest(ctx, desc.Digest.String(), desc.Digest); err != nil {
			return err
		}
		if doc, mt, err = parseManifest(raw, mt); err != nil {
			return err
		}
		if isIndex(mt) {
			return fmt.Errorf("manifest %s: nested index: %w", manifestDigest, errdefs.ErrNotImplemented)
		}
	}
	switch doc.Config.MediaType {
	case ocispec.MediaTypeImageConfig, mediaTypeDockerConfig, "":
	default:
		return fmt.Errorf("unsupported config media type %q (not a container image): %w", doc.Config.MediaType, errdefs.ErrInvalidArgument)
	}
	config, err := s.fetchSmallBlob(ctx, doc.Config)
	if err != nil {
		return err
	}
	var cfg configDoc
	if err := json.Unmarshal(config, &cfg); err != nil {
		return fmt.Errorf("invalid image config: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if len(cfg.RootFS.DiffIDs) != len(doc.Layers) {
		return fmt.Errorf("invalid manifest, layers length mismatch: expected %d, got %d: %w", len(cfg.RootFS.DiffIDs), len(doc.Layers), errdefs.ErrInvalidArgument)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("invalid image config: diff ID %q: %v: %w", d, err, errdefs.ErrInvalidArgument)
		}
	}
	upToDate := false
	if img, err := c.images.Get(ctx, doc.Config.Digest.String()); err == nil && img.ManifestDigest != "" {
		upToDate = len(img.Layers) == len(doc.Layers)
	}
	if !upToDate {
		if err := c.fetchLayers(ctx, s, doc.Layers, cfg.RootFS.DiffIDs, p); err != nil {
			return err
		}
	}
	if d, err := c.cs.WriteBlob(ctx, raw); err != nil {
		return err
	} else if manifestDigest.Algorithm() == digest.SHA256 && d != manifestDigest {
		return fmt.Errorf("manifest %s: stored as %s: %w", manifestDigest, d, errdefs.ErrInvalidArgument)
	}
	img, err := c.images.Create(ctx, config, doc.Layers, manifestDigest)
	if err != nil {
		return err
	}
	if tagged, ok := named.(reference.NamedTagged); ok {
		if err := c.images.Tag(ctx, img.ID.String(), tagged.String()); err != nil {
			return err
		}
	}
	canonical, err := reference.WithDigest(reference.TrimNamed(named), top)
	if err == nil {
		if err := c.images.AddRepoDigest(ctx, img.ID, canonical); err != nil {
			return err
		}
	}
	p.status("", "Digest: "+top.String())
	if upToDate {
		p.status("", "Status: Image is up to date for "+reference.FamiliarString(named))
	} else {
		p.status("", "Status: Downloaded newer image for "+reference.FamiliarString(named))
	}
	return nil
}

// pullError adds Docker's hint to a registry's "not found" or "denied".
func pullError(named reference.Named, err error) error {
	if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnauthenticated) || errors.Is(err, errdefs.ErrPermissionDenied) {
		if reference.Domain(named) == hubDomain {
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w", reference.FamiliarName(named), err)
		}
	}
	return err
}

// layerJob is one layer of a pull.
type layerJob struct {
	desc     ocispec.Descriptor
	diffID   digest.Digest
	chainID  digest.Digest
	parent   digest.Digest
	below    *layerJob
	needBlob bool
	unpack   bool
	done     chan struct{} // closed when the layer is unpacked (or failed)
	err      error
}

// fetchLayers downloads the missing layer blobs and unpacks the missing
// layers, in parallel, each unpack starting when the layer below is in.
func (c *Client) fetchLayers(ctx context.Context, s *session, layers []ocispec.Descriptor, diffIDs []digest.Digest, p *progress) error {
	chains := snapshot.ChainIDs(diffIDs)
	jobs := make([]*layerJob, len(layers))
	for i, desc := range layers {
		j := &layerJob{desc: desc, diffID: diffIDs[i], chainID: chains[i], done: make(chan struct{})}
		if i > 0 {
			j.parent, j.below = chains[i-1], jobs[i-1]
		}
		_, infoErr := c.cs.Info(desc.Digest)
		j.needBlob = infoErr != nil
		j.unpack = !c.snap.HasLayer(j.chainID)
		jobs[i] = j
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.cfg.MaxConcurrentDownloads)
	errs := make(chan error, len(jobs))
	for _, j := range jobs {
		if !j.needBlob && !j.unpack {
			close(j.done)
			p.status(shortID(j.desc.Digest), "Already exists")
			errs <- nil
			continue
		}
		p.status(shortID(j.desc.Digest), "Pulling fs layer")
	}
	for _, j := range jobs {
		if !j.needBlob && !j.unpack {
			continue
		}
		go func() {
			err := c.pullLayer(ctx, s, j, sem, p)
			j.err = err
			close(j.done)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	rank := func(err error) int {
		switch {
		case err == nil:
			return 0
		case errors.Is(err, context.Canceled), errors.Is(err, errBelowFailed):
			return 1
		}
		return 2
	}
	for range jobs {
		if err := <-errs; rank(err) > rank(first) {
			first = err
		}
	}
	return first
}

var errBelowFailed = errors.New("layer below failed")

// pullLayer downloads and unpacks one layer.
func (c *Client) pullLayer(ctx context.Context, s *session, j *layerJob, sem chan struct{}, p *progress) error {
	id := shortID(j.desc.Digest)
	if !j.needBlob {
		// The blob is here: only unpack it.
		f, err := c.cs.Open(j.desc.Digest)
		if err != nil {
			return err
		}
		defer f.Close()
		return c.unpack(ctx, j, f, p)
	}
	var sp *spool
	unpacked := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if j.unpack {
		var err error
		if sp, err = newSpool(c.cfg.TempDir); err != nil {
			return err
		}
		defer sp.close()
		go func() {
			err := c.unpack(ctx, j, &spoolReader{s: sp}, p)
			if err != nil {
				cancel() // stop the download
			}
			unpacked <- err
		}()
	}
	select {
	case sem <- struct{}{}:
	default:
		p.status(id, "Waiting")
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			if sp != nil {
				sp.finish(ctx.Err())
				<-unpacked
			}
			return ctx.Err()
		}
	}
	err := c.download(ctx, s, j.desc, sp, p)
	<-sem
	if sp == nil {
		if err == nil {
			p.status(id, "Pull complete")
		}
		return err
	}
	sp.finish(err)
	uerr := <-unpacked
	if uerr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return uerr
	}
	if err != nil {
		return err
	}
	return uerr
}

// unpack decompresses r (the layer blob, as it arrives) into the
// snapshotter once the layer below is in, verifying the diff ID.
func (c *Client) unpack(ctx context.Context, j *layerJob, r io.Reader, p *progress) error {
	id := shortID(j.desc.Digest)
	if j.below != nil {
		select {
		case <-j.below.done:
			if j.below.err != nil {
				return fmt.Errorf("layer %s: %w", j.diffID, errBelowFailed)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if !j.unpack {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	m := &meter{p: p, id: id, status: "Extracting", total: j.desc.Size}
	cr := &countReader{r: r, m: m}
	dr, err := archive.DecompressStream(cr)
	if err != nil {
		return fmt.Errorf("layer %s: %v: %w", j.desc.Digest, err, errdefs.ErrInvalidArgument)
	}
	defer dr.Close()
	vr := &verifyReader{r: dr, v: j.diffID.Verifier(), diffID: j.diffID, tail: cr}
	if _, err := c.snap.ApplyLayer(ctx, j.parent, j.chainID, vr); err != nil {
		return fmt.Errorf("failed to register layer: %w", err)
	}
	// A layer applied meanwhile by another pull reads nothing: wait for
	// the blob anyway, so that it is in the content store.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	p.status(id, "Pull complete")
	return nil
}

// countReader counts the compressed bytes read for the Extracting bar.
type countReader struct {
	r io.Reader
	n int64
	m *meter
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.m.update(c.n)
	}
	return n, err
}

// verifyReader checks the diff ID of the decompressed stream and, at its
// end, reads the compressed stream (tail) to its end too, so that the
// snapshotter sees EOF only once the blob is verified and committed.
type verifyReader struct {
	r      io.Reader
	v      digest.Verifier
	diffID digest.Digest
	tail   io.Reader
}

func (vr *verifyReader) Read(p []byte) (int, error) {
	n, err := vr.r.Read(p)
	vr.v.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if !vr.v.Verified() {
			return n, fmt.Errorf("layer content does not match diff ID %s: %w", vr.diffID, errdefs.ErrInvalidArgument)
		}
		if _, terr := io.Copy(io.Discard, vr.tail); terr != nil {
			return n, terr
		}
	}
	return n, err
}

// listTags lists the tags of named's repository.
func (c *Client) listTags(ctx context.Context, named reference.Named, auth registry.AuthConfig) ([]string, error) {
	eps, err := c.endpoints(named, false)
	if err != nil {
		return nil, err
	}
	ep := eps[len(eps)-1]
	s, err := c.open(ctx, ep, auth, []string{repoScope(ep.repo, "pull")})
	if err != nil {
		return nil, err
	}
	var tags []string
	next := fmt.Sprintf("%s://%s/v2/%s/tags/list", s.scheme, ep.reg.RegistryStr(), ep.repo)
	for next != "" && len(tags) < 100000 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, next, nil)
		if err != nil {
			return nil, err
		}
		resp, err := s.do(req, http.StatusOK)
		if err != nil {
			return nil, pullError(named, err)
		}
		var page struct {
			Tags []string `json:"tags"`
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, maxManifestSize)).Decode(&page)
		link := resp.Header.Get("Link")
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("list tags of %s: %w", named.Name(), err)
		}
		tags = append(tags, page.Tags...)
		next = nextLink(req, link)
	}
	slices.Sort(tags)
	return slices.Compact(tags), nil
}
