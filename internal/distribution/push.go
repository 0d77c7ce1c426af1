package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"berth/internal/image"
)

// PushOptions tune Push.
type PushOptions struct {
	// Auth are the registry credentials.
	Auth registry.AuthConfig
	// AllTags pushes every local tag of the repository.
	AllTags bool
}

// PushResult is the aux message of a pushed tag, as Docker sends it.
type PushResult struct {
	Tag    string
	Digest string
	Size   int
}

// Push uploads the image ref names ("name:tag"; a bare name means
// ":latest", or every local tag with AllTags) to its registry. A missing
// local image is ErrNotFound with Docker's message.
func (c *Client) Push(ctx context.Context, ref string, opts PushOptions, fn Progress) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("%v%w", err, classOnly{errdefs.ErrInvalidArgument})
	}
	if _, ok := named.(reference.Canonical); ok {
		return fmt.Errorf("cannot push a digest reference: %w", errdefs.ErrInvalidArgument)
	}
	p := newProgress(fn)
	var targets []reference.NamedTagged
	if t, ok := named.(reference.NamedTagged); ok && !opts.AllTags {
		targets = append(targets, t)
	} else if !opts.AllTags {
		targets = append(targets, reference.TagNameOnly(named).(reference.NamedTagged))
	} else {
		imgs, err := c.images.Images(ctx)
		if err != nil {
			return err
		}
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				n, err := reference.ParseNormalizedNamed(t)
				if err != nil || n.Name() != named.Name() {
					continue
				}
				if tagged, ok := n.(reference.NamedTagged); ok {
					targets = append(targets, tagged)
				}
			}
		}
		slices.SortFunc(targets, func(a, b reference.NamedTagged) int { return strings.Compare(a.Tag(), b.Tag()) })
		if len(targets) == 0 {
			return &NotLocalError{Name: reference.FamiliarName(named)}
		}
	}
	p.status("", "The push refers to repository ["+named.Name()+"]")
	for _, t := range targets {
		if err := c.pushTag(ctx, t, opts.Auth, p); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) pushTag(ctx context.Context, tagged reference.NamedTagged, auth registry.AuthConfig, p *progress) error {
	img, err := c.images.Get(ctx, tagged.String())
	if errors.Is(err, errdefs.ErrNotFound) {
		return &NotLocalError{Name: reference.FamiliarName(tagged)}
	}
	if err != nil {
		return err
	}
	raw, err := c.readBlob(img.ManifestDigest)
	if err != nil {
		return fmt.Errorf("image %s: manifest: %w", reference.FamiliarString(tagged), err)
	}
	doc, mt, err := parseManifest(raw, "")
	if err != nil {
		return err
	}
	if isIndex(mt) {
		return fmt.Errorf("pushing an index is not supported: %w", errdefs.ErrNotImplemented)
	}
	eps, err := c.endpoints(tagged, false)
	if err != nil {
		return err
	}
	ep := eps[len(eps)-1]
	sources := mountSources(img, tagged)
	scopes := []string{repoScope(ep.repo, "pull", "push")}
	for _, src := range sources {
		scopes = append(scopes, repoScope(src, "pull"))
	}
	s, err := c.open(ctx, ep, auth, scopes)
	if err != nil {
		return err
	}
	for i := len(doc.Layers) - 1; i >= 0; i-- {
		p.status(shortID(doc.Layers[i].Digest), "Preparing")
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.MaxConcurrentUploads)
	for _, l := range doc.Layers {
		g.Go(func() error { return c.pushBlob(gctx, s, l, sources, p, true) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := c.pushBlob(ctx, s, doc.Config, sources, p, false); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.url("manifests", tagged.Tag()), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mt)
	resp, err := s.do(req, http.StatusCreated, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return err
	}
	drain(resp.Body)
	p.status("", fmt.Sprintf("%s: digest: %s size: %d", tagged.Tag(), img.ManifestDigest, len(raw)))
	p.aux(PushResult{Tag: tagged.Tag(), Digest: img.ManifestDigest.String(), Size: len(raw)})
	if canonical, err := reference.WithDigest(reference.TrimNamed(tagged), img.ManifestDigest); err == nil {
		if err := c.images.AddRepoDigest(ctx, img.ID, canonical); err != nil {
			return err
		}
	}
	return nil
}

// mountSources are the other repositories of target's registry that img
// is known under: blobs can be mounted from them.
func mountSources(img *image.Image, target reference.Named) []string {
	var out []string
	for _, r := range slices.Concat(img.RepoTags, img.RepoDigests) {
		n, err := reference.ParseNormalizedNamed(r)
		if err != nil || reference.Domain(n) != reference.Domain(target) || n.Name() == target.Name() {
			continue
		}
		if p := reference.Path(n); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (c *Client) readBlob(d digest.Digest) ([]byte, error) {
	f, err := c.cs.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("blob %s too large: %w", d, errdefs.ErrInvalidArgument)
	}
	return b, nil
}

// pushBlob makes desc present in the session's repository: it is left
// alone when there, mounted from a source repository when possible, and
// uploaded otherwise.
func (c *Client) pushBlob(ctx context.Context, s *session, desc ocispec.Descriptor, sources []string, p *progress, show bool) error {
	id := shortID(desc.Digest)
	say := func(status string) {
		if show {
			p.status(id, status)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, s.url("blobs", desc.Digest.String()), nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return classify(err)
	}
	drain(resp.Body)
	if resp.StatusCode == http.StatusOK {
		say("Layer already exists")
		return nil
	}
	uploads := fmt.Sprintf("%s://%s/v2/%s/blobs/uploads/", s.scheme, s.ep.reg.RegistryStr(), s.ep.repo)
	var location string
	if len(sources) > 0 {
		// A registry that cannot mount starts an upload instead.
		src := sources[0]
		u := uploads + "?" + url.Values{"mount": {desc.Digest.String()}, "from": {src}}.Encode()
		loc, mounted, err := s.startUpload(ctx, u)
		if err != nil {
			return err
		}
		if mounted {
			say("Mounted from " + src)
			return nil
		}
		location = loc
	}
	if location == "" {
		if location, _, err = s.startUpload(ctx, uploads); err != nil {
			return err
		}
	}
	f, err := c.cs.Open(desc.Digest)
	if err != nil {
		return err
	}
	defer f.Close()
	u, err := url.Parse(location)
	if err != nil {
		return fmt.Errorf("upload location %q: %w", location, err)
	}
	q := u.Query()
	q.Set("digest", desc.Digest.String())
	u.RawQuery = q.Encode()
	var body io.Reader = f
	if show {
		body = &countReader{r: f, m: &meter{p: p, id: id, status: "Pushing", total: desc.Size}}
	}
	put, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), body)
	if err != nil {
		return err
	}
	put.ContentLength = desc.Size
	put.Header.Set("Content-Type", "application/octet-stream")
	presp, err := s.do(put, http.StatusCreated, http.StatusNoContent, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("upload blob %s: %w", desc.Digest, err)
	}
	drain(presp.Body)
	say("Pushed")
	return nil
}

// startUpload POSTs to u; a 201 means the blob was mounted, a 202 gives the
// upload location.
func (s *session) startUpload(ctx context.Context, u string) (string, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", false, err
	}
	resp, err := s.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return "", false, err
	}
	drain(resp.Body)
	if resp.StatusCode == http.StatusCreated {
		return "", true, nil
	}
	loc, err := resp.Location()
	if err != nil {
		return "", false, fmt.Errorf("upload: registry sent no location: %w", err)
	}
	return loc.String(), false, nil
}

// nextLink resolves the "next" page of an RFC 5988 Link header.
func nextLink(req *http.Request, link string) string {
	if link == "" {
		return ""
	}
	target, _, _ := strings.Cut(link, ";")
	target = strings.Trim(strings.TrimSpace(target), "<>")
	u, err := req.URL.Parse(target)
	if err != nil {
		return ""
	}
	return u.String()
}
