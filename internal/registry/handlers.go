package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// serveBlob handles GET, HEAD and DELETE /v2/<name>/blobs/<digest>.
func (s *Server) serveBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.arg)
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f, err := s.store.openBlob(rt.name, d)
		if err != nil {
			return err
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", d.String())
		h.Set("ETag", `"`+d.String()+`"`)
		h.Set("Cache-Control", "max-age=31536000")
		// ServeContent answers Range and If-Range requests, 416 included.
		http.ServeContent(w, r, "", time.Time{}, f)
		return nil
	case http.MethodDelete:
		if err := s.store.deleteBlob(rt.name, d); err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return errMethod()
}

// parseContentRange reads a chunk's Content-Range, "<start>-<end>" (a
// "bytes " prefix is tolerated), or reports that there is none.
func parseContentRange(v string) (start, end int64, ok bool, err error) {
	if v == "" {
		return 0, 0, false, nil
	}
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "bytes"), "=")
	v = strings.TrimSpace(v)
	v, _, _ = strings.Cut(v, "/")
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false, fmt.Errorf("invalid Content-Range %q", v)
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false, fmt.Errorf("invalid Content-Range %q", v)
	}
	return start, end, true, nil
}

// uploadHeaders sets the headers that describe upload id of size bytes.
func uploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/uploads/"+id)
	h.Set("Docker-Upload-UUID", id)
	end := size - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	h.Set("Content-Length", "0")
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// serveUpload handles /v2/<name>/blobs/uploads/[<id>].
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	if rt.arg == "" {
		if r.Method != http.MethodPost {
			return errMethod()
		}
		return s.startUpload(w, r, rt)
	}
	u, unlock, err := s.store.getUpload(rt.name, rt.arg)
	if err != nil {
		return err
	}
	defer unlock()
	id := rt.arg
	switch r.Method {
	case http.MethodGet:
		size, err := s.store.uploadSize(id)
		if err != nil {
			return err
		}
		uploadHeaders(w, rt.name, id, size)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		s.store.removeUpload(id)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch, http.MethodPut:
	default:
		return errMethod()
	}
	var dig digest.Digest
	if r.Method == http.MethodPut {
		if dig, err = parseDigest(r.URL.Query().Get("digest")); err != nil {
			return err
		}
	}
	start, end, ranged, err := parseContentRange(r.Header.Get("Content-Range"))
	if err != nil {
		return newError(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, err.Error(), nil)
	}
	body := io.Reader(r.Body)
	if ranged {
		if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
			return newError(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, "Content-Range does not match Content-Length", nil)
		}
		body = io.LimitReader(r.Body, end-start+1)
	} else {
		start = -1
	}
	size, err := s.store.appendUpload(ctx, id, u, start, body)
	if err != nil {
		if re, ok := err.(*Error); ok && re.Status == http.StatusRequestedRangeNotSatisfiable {
			uploadHeaders(w, rt.name, id, size)
		}
		return err
	}
	if ranged && size != end+1 {
		// The client sent less than its range announced.
		uploadHeaders(w, rt.name, id, size)
		return newError(http.StatusBadRequest, CodeBlobUploadInvalid, "chunk shorter than its Content-Range", nil)
	}
	if r.Method == http.MethodPatch {
		uploadHeaders(w, rt.name, id, size)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	if _, err := s.store.commitUpload(ctx, rt.name, id, u, dig); err != nil {
		return err
	}
	blobCreated(w, rt.name, dig)
	return nil
}

// startUpload handles POST /v2/<name>/blobs/uploads/: a mount, a
// monolithic upload (?digest=) or the start of a session.
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		d, err := parseDigest(m)
		if err != nil {
			return err
		}
		from := q.Get("from")
		allowed := false
		switch {
		case from == "":
			// Linking any blob of the store by digest alone would let a
			// user read other repositories' blobs, so anonymous mounts are
			// only served when access is not restricted.
			allowed = !s.auth.enabled()
		case validName(from):
			allowed = rt.canPull(from)
		}
		if allowed {
			ok, err := s.store.mount(ctx, rt.name, from, d)
			if err != nil {
				return err
			}
			if ok {
				blobCreated(w, rt.name, d)
				return nil
			}
		}
		// Not mountable: fall through to a new upload session.
	}
	id, err := s.store.newUpload(rt.name)
	if err != nil {
		return err
	}
	if dv := q.Get("digest"); dv != "" {
		d, err := parseDigest(dv)
		if err != nil {
			s.store.removeUpload(id)
			return err
		}
		u, unlock, err := s.store.getUpload(rt.name, id)
		if err != nil {
			return err
		}
		defer unlock()
		if _, err := s.store.appendUpload(ctx, id, u, 0, r.Body); err != nil {
			s.store.removeUpload(id)
			return err
		}
		if r.ContentLength >= 0 {
			if size, _ := s.store.uploadSize(id); size != r.ContentLength {
				s.store.removeUpload(id)
				return newError(http.StatusBadRequest, CodeSizeInvalid, "body shorter than Content-Length", nil)
			}
		}
		if _, err := s.store.commitUpload(ctx, rt.name, id, u, d); err != nil {
			return err
		}
		blobCreated(w, rt.name, d)
		return nil
	}
	uploadHeaders(w, rt.name, id, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// serveManifest handles /v2/<name>/manifests/<reference>.
func (s *Server) serveManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		d, err := s.store.resolve(rt.name, rt.arg)
		if err != nil {
			return err
		}
		body, mt, err := s.store.getManifest(rt.name, d)
		if err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", mt)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Docker-Content-Digest", d.String())
		h.Set("ETag", `"`+d.String()+`"`)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, d.String()) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
		return nil
	case http.MethodPut:
		return s.putManifest(w, r, rt)
	case http.MethodDelete:
		if strings.Contains(rt.arg, ":") {
			d, err := parseDigest(rt.arg)
			if err != nil {
				return err
			}
			if err := s.store.deleteManifest(rt.name, d); err != nil {
				return err
			}
		} else {
			if !validTag(rt.arg) {
				return newError(http.StatusBadRequest, CodeTagInvalid, "invalid tag", map[string]string{"tag": rt.arg})
			}
			if err := s.store.deleteTag(rt.name, rt.arg); err != nil {
				return err
			}
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return errMethod()
}

// putManifest validates and stores a manifest.
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	var want digest.Digest
	var tags []string
	if strings.Contains(rt.arg, ":") {
		d, err := parseDigest(rt.arg)
		if err != nil {
			return err
		}
		want = d
		// Tags may come as parameters of a push by digest.
		tags = r.URL.Query()["tag"]
	} else {
		tags = []string{rt.arg}
	}
	for _, t := range tags {
		if !validTag(t) {
			return newError(http.StatusBadRequest, CodeTagInvalid, "invalid tag", map[string]string{"tag": t})
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestSize+1))
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if len(body) > maxManifestSize {
		return newError(http.StatusRequestEntityTooLarge, CodeSizeInvalid, "manifest too large", map[string]int{"limit": maxManifestSize})
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	d := alg.FromBytes(body)
	if want != "" && d != want {
		return errDigestInvalid(fmt.Sprintf("manifest digest %s does not match reference %s", d, want))
	}
	m, mt, err := parseManifest(r.Header.Get("Content-Type"), body)
	if err != nil {
		return err
	}
	unlock, err := s.store.lock(r.Context(), false)
	if err != nil {
		return err
	}
	defer unlock()
	blobs, children := references(m)
	for _, b := range blobs {
		size, err := s.store.statBlob(rt.name, b.Digest)
		if err != nil {
			return newError(http.StatusBadRequest, CodeManifestBlobUnknown, "blob unknown to registry", map[string]string{"digest": b.Digest.String()})
		}
		if size != b.Size {
			return errManifestInvalid(fmt.Sprintf("blob %s has size %d, the manifest says %d", b.Digest, size, b.Size))
		}
	}
	for _, c := range children {
		if !exists(s.store.revisionLink(rt.name, c.Digest)) {
			return newError(http.StatusBadRequest, CodeManifestBlobUnknown, "manifest unknown to registry", map[string]string{"digest": c.Digest.String()})
		}
	}
	ref := referrerOf(m, d, int64(len(body)))
	if err := s.store.putManifest(rt.name, d, mt, body, tags, ref); err != nil {
		return err
	}
	h := w.Header()
	if want != "" && len(tags) > 0 {
		h.Set("OCI-Tag", strings.Join(tags, ", "))
	}
	if ref != nil {
		h.Set("OCI-Subject", ref.subject.String())
	}
	h.Set("Location", "/v2/"+rt.name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// paginate applies the n and last parameters of q to the sorted list all,
// and sets the Link header to the next page when there is one.
func paginate(w http.ResponseWriter, path string, q url.Values, all []string) ([]string, error) {
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	nv := q.Get("n")
	if nv == "" {
		return all, nil
	}
	n, err := strconv.Atoi(nv)
	if err != nil || n < 0 {
		return nil, newError(http.StatusBadRequest, CodeUnsupported, "invalid n parameter", map[string]string{"n": nv})
	}
	if n < len(all) {
		all = all[:n]
		if n > 0 {
			next := url.Values{"n": {strconv.Itoa(n)}, "last": {all[n-1]}}
			w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, next.Encode()))
		}
	}
	return all, nil
}

func writeJSON(w http.ResponseWriter, r *http.Request, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return nil
}

// serveTags handles GET /v2/<name>/tags/list.
func (s *Server) serveTags(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errMethod()
	}
	tags, err := s.store.tags(rt.name)
	if err != nil {
		return err
	}
	page, err := paginate(w, r.URL.Path, r.URL.Query(), tags)
	if err != nil {
		return err
	}
	return writeJSON(w, r, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, page})
}

// serveCatalog handles GET /v2/_catalog.
func (s *Server) serveCatalog(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errMethod()
	}
	repos, err := s.store.repositories()
	if err != nil {
		return err
	}
	page, err := paginate(w, r.URL.Path, r.URL.Query(), repos)
	if err != nil {
		return err
	}
	if page == nil {
		page = []string{}
	}
	return writeJSON(w, r, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// serveReferrers handles GET /v2/<name>/referrers/<digest>.
func (s *Server) serveReferrers(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return errMethod()
	}
	d, err := parseDigest(rt.arg)
	if err != nil {
		return err
	}
	refs, err := s.store.referrers(rt.name, d)
	if err != nil {
		return err
	}
	if at := r.URL.Query().Get("artifactType"); at != "" {
		refs = slices.DeleteFunc(refs, func(d descriptor) bool { return d.ArtifactType != at })
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	slices.SortFunc(refs, func(a, b descriptor) int { return strings.Compare(a.Digest.String(), b.Digest.String()) })
	return writeJSON(w, r, MediaTypeOCIIndex, struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, MediaTypeOCIIndex, refs})
}
