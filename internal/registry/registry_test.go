package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/registry"
)

// env is a registry served by httptest over a temporary root.
type env struct {
	t    *testing.T
	root string
	srv  *httptest.Server
	auth string // Authorization header sent with every request
}

func newEnv(t *testing.T, mod func(*registry.Config)) *env {
	t.Helper()
	root := t.TempDir()
	cfg := registry.DefaultConfig()
	cfg.Root = root
	if mod != nil {
		mod(&cfg)
	}
	s, err := registry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &env{t: t, root: root, srv: hs}
}

// with returns e reporting to t (for subtests).
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.auth != "" {
		req.Header.Set("Authorization", e.auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

func (e *env) expect(resp *http.Response, body []byte, status int) {
	e.t.Helper()
	if resp.StatusCode != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
}

// errCode returns the first error code of an error body.
func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var eb struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &eb); err != nil || len(eb.Errors) == 0 {
		t.Fatalf("not an error body: %q", body)
	}
	return eb.Errors[0].Code
}

// pushBlob uploads b monolithically to repo and returns its digest.
func (e *env) pushBlob(repo string, b []byte) digest.Digest {
	e.t.Helper()
	d := digest.FromBytes(b)
	resp, body := e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), b)
	e.expect(resp, body, http.StatusCreated)
	return d
}

// image pushes a config and one layer and returns an OCI manifest for them.
func (e *env) image(repo string, extra map[string]any) []byte {
	e.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer of " + repo + e.t.Name())
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     registry.MediaTypeOCIManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": e.pushBlob(repo, cfg), "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": e.pushBlob(repo, layer), "size": len(layer)}},
	}
	for k, v := range extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) putManifest(repo, ref string, m []byte) digest.Digest {
	e.t.Helper()
	resp, body := e.do("PUT", "/v2/"+repo+"/manifests/"+ref, m, "Content-Type", registry.MediaTypeOCIManifest)
	e.expect(resp, body, http.StatusCreated)
	return digest.Digest(resp.Header.Get("Docker-Content-Digest"))
}

// files lists the regular files under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestServer_Ping(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("GET", "/v2/", nil)
	e.expect(resp, body, http.StatusOK)
	if v := resp.Header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
		t.Fatalf("API version header %q", v)
	}
	resp, body = e.do("GET", "/v2/Bad_Name/tags/list", nil)
	e.expect(resp, body, http.StatusBadRequest)
	if c := errCode(t, body); c != registry.CodeNameInvalid {
		t.Fatalf("code %s", c)
	}
}

func TestServer_MonolithicUpload(t *testing.T) {
	tests := []struct {
		name string
		alg  digest.Algorithm
	}{{"sha256", digest.SHA256}, {"sha512", digest.SHA512}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			data := []byte("monolithic " + tc.name)
			d := tc.alg.FromBytes(data)
			resp, body := e.do("POST", "/v2/a/b/blobs/uploads/?digest="+d.String(), data)
			e.expect(resp, body, http.StatusCreated)
			if got := resp.Header.Get("Location"); got != "/v2/a/b/blobs/"+d.String() {
				t.Fatalf("Location %q", got)
			}
			resp, body = e.do("GET", "/v2/a/b/blobs/"+d.String(), nil)
			e.expect(resp, body, http.StatusOK)
			if !bytes.Equal(body, data) || resp.Header.Get("Docker-Content-Digest") != d.String() {
				t.Fatalf("GET gave %q, digest %q", body, resp.Header.Get("Docker-Content-Digest"))
			}
			// Blobs are scoped to their repository.
			resp, body = e.do("HEAD", "/v2/other/blobs/"+d.String(), nil)
			e.expect(resp, body, http.StatusNotFound)
		})
	}
}

func TestServer_DigestMismatchStoresNothing(t *testing.T) {
	e := newEnv(t, nil)
	data := []byte("the real content")
	wrong := digest.FromString("something else")
	resp, body := e.do("POST", "/v2/r/blobs/uploads/?digest="+wrong.String(), data)
	e.expect(resp, body, http.StatusBadRequest)
	if c := errCode(t, body); c != registry.CodeDigestInvalid {
		t.Fatalf("code %s", c)
	}
	// Chunked path: the PUT with the wrong digest fails too.
	resp, body = e.do("POST", "/v2/r/blobs/uploads/", nil)
	e.expect(resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	resp, body = e.do("PATCH", loc, data)
	e.expect(resp, body, http.StatusAccepted)
	resp, body = e.do("PUT", resp.Header.Get("Location")+"?digest="+wrong.String(), nil)
	e.expect(resp, body, http.StatusBadRequest)
	for _, dir := range []string{"blobs", "uploads", "repositories"} {
		if f := files(t, filepath.Join(e.root, dir)); len(f) != 0 {
			t.Fatalf("files left in %s: %v", dir, f)
		}
	}
	resp, body = e.do("HEAD", "/v2/r/blobs/"+wrong.String(), nil)
	e.expect(resp, body, http.StatusNotFound)
}

func TestServer_ChunkedUploadResume(t *testing.T) {
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		t.Run(alg.String(), func(t *testing.T) {
			root := t.TempDir()
			start := func() *env {
				e := newEnv(t, func(c *registry.Config) { c.Root = root })
				e.root = root
				return e
			}
			e := start()
			data := bytes.Repeat([]byte("0123456789"), 1000)
			d := alg.FromBytes(data)
			resp, body := e.do("POST", "/v2/r/blobs/uploads/", nil)
			e.expect(resp, body, http.StatusAccepted)
			loc := resp.Header.Get("Location")
			if resp.Header.Get("Docker-Upload-UUID") == "" || resp.Header.Get("Range") != "0-0" {
				t.Fatalf("POST headers %v", resp.Header)
			}
			resp, body = e.do("PATCH", loc, data[:4000], "Content-Range", "0-3999", "Content-Type", "application/octet-stream")
			e.expect(resp, body, http.StatusAccepted)
			if got := resp.Header.Get("Range"); got != "0-3999" {
				t.Fatalf("Range %q", got)
			}
			// An out-of-order chunk is refused and changes nothing.
			resp, body = e.do("PATCH", loc, data[5000:6000], "Content-Range", "5000-5999")
			e.expect(resp, body, http.StatusRequestedRangeNotSatisfiable)

			// The server restarts; the upload resumes from its status.
			e2 := start()
			resp, body = e2.do("GET", loc, nil)
			e2.expect(resp, body, http.StatusNoContent)
			if got := resp.Header.Get("Range"); got != "0-3999" {
				t.Fatalf("status Range %q", got)
			}
			resp, body = e2.do("PATCH", loc, data[4000:9000], "Content-Range", "4000-8999")
			e2.expect(resp, body, http.StatusAccepted)
			resp, body = e2.do("PUT", resp.Header.Get("Location")+"?digest="+d.String(), data[9000:], "Content-Range", "9000-9999")
			e2.expect(resp, body, http.StatusCreated)
			resp, body = e2.do("GET", "/v2/r/blobs/"+d.String(), nil)
			e2.expect(resp, body, http.StatusOK)
			if !bytes.Equal(body, data) {
				t.Fatal("blob content differs")
			}
			// The session is gone.
			resp, body = e2.do("GET", loc, nil)
			e2.expect(resp, body, http.StatusNotFound)
		})
	}
}

func TestServer_UploadCancel(t *testing.T) {
	e := newEnv(t, nil)
	resp, body := e.do("POST", "/v2/r/blobs/uploads/", nil)
	e.expect(resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	resp, body = e.do("DELETE", loc, nil)
	e.expect(resp, body, http.StatusNoContent)
	resp, body = e.do("PATCH", loc, []byte("x"))
	e.expect(resp, body, http.StatusNotFound)
	if c := errCode(t, body); c != registry.CodeBlobUploadUnknown {
		t.Fatalf("code %s", c)
	}
}

func TestServer_RangeReads(t *testing.T) {
	e := newEnv(t, nil)
	data := make([]byte, 2048)
	for i := range data {
		data[i] = byte(i * 7)
	}
	d := e.pushBlob("r", data)
	tests := []struct {
		rng    string
		status int
		want   []byte
		cr     string
	}{
		{"bytes=500-1499", 206, data[500:1500], "bytes 500-1499/2048"},
		{"bytes=500-", 206, data[500:], "bytes 500-2047/2048"},
		{"bytes=-500", 206, data[1548:], "bytes 1548-2047/2048"},
		{"bytes=2000-5000", 206, data[2000:], "bytes 2000-2047/2048"},
		{"bytes=5000-10000", 416, nil, "bytes */2048"},
		{"", 200, data, ""},
	}
	for _, tc := range tests {
		t.Run(tc.rng, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.do("GET", "/v2/r/blobs/"+d.String(), nil, "Range", tc.rng)
			e.expect(resp, body, tc.status)
			if tc.want != nil && !bytes.Equal(body, tc.want) {
				t.Fatalf("body of %d bytes, want %d", len(body), len(tc.want))
			}
			if got := resp.Header.Get("Content-Range"); got != tc.cr {
				t.Fatalf("Content-Range %q, want %q", got, tc.cr)
			}
		})
	}
}

func TestServer_Manifests(t *testing.T) {
	e := newEnv(t, nil)
	m := e.image("app", nil)
	d := e.putManifest("app", "v1", m)
	if d != digest.FromBytes(m) {
		t.Fatalf("digest %s", d)
	}
	for _, ref := range []string{"v1", d.String()} {
		resp, body := e.do("GET", "/v2/app/manifests/"+ref, nil)
		e.expect(resp, body, http.StatusOK)
		if !bytes.Equal(body, m) || resp.Header.Get("Content-Type") != registry.MediaTypeOCIManifest || resp.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("GET %s: %v", ref, resp.Header)
		}
		resp, body = e.do("HEAD", "/v2/app/manifests/"+ref, nil)
		e.expect(resp, body, http.StatusOK)
		if len(body) != 0 || resp.ContentLength != int64(len(m)) {
			t.Fatalf("HEAD %s: %d bytes, length %d", ref, len(body), resp.ContentLength)
		}
	}
	// A manifest by sha512 digest is verified with sha512.
	d512 := digest.SHA512.FromBytes(m)
	resp, body := e.do("PUT", "/v2/app/manifests/"+d512.String(), m, "Content-Type", registry.MediaTypeOCIManifest)
	e.expect(resp, body, http.StatusCreated)
	if resp.Header.Get("Docker-Content-Digest") != d512.String() {
		t.Fatalf("sha512 digest header %q", resp.Header.Get("Docker-Content-Digest"))
	}

	bad := []struct {
		name, ref, ctype string
		body             []byte
		status           int
		code             string
	}{
		{"missing blob", "x", registry.MediaTypeOCIManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"` + digest.FromString("nope").String() + `","size":4},"layers":[]}`), 400, registry.CodeManifestBlobUnknown},
		{"missing child", "x", registry.MediaTypeOCIIndex, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest.FromString("nope").String() + `","size":4}]}`), 400, registry.CodeManifestBlobUnknown},
		{"not json", "x", registry.MediaTypeOCIManifest, []byte("{"), 400, registry.CodeManifestInvalid},
		{"type mismatch", "x", registry.MediaTypeOCIIndex, m, 400, registry.CodeManifestInvalid},
		{"schema 1", "x", "application/vnd.docker.distribution.manifest.v1+json", []byte(`{"schemaVersion":1}`), 400, registry.CodeManifestInvalid},
		{"digest mismatch", digest.FromString("other").String(), registry.MediaTypeOCIManifest, m, 400, registry.CodeDigestInvalid},
		{"bad digest", "sha256:baddigeststring", registry.MediaTypeOCIManifest, m, 400, registry.CodeDigestInvalid},
		{"bad tag", ".hidden", registry.MediaTypeOCIManifest, m, 400, registry.CodeTagInvalid},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.do("PUT", "/v2/app/manifests/"+tc.ref, tc.body, "Content-Type", tc.ctype)
			e.expect(resp, body, tc.status)
			if c := errCode(t, body); c != tc.code {
				t.Fatalf("code %s, want %s", c, tc.code)
			}
		})
	}

	// Deleting by digest removes the manifest and its tags.
	resp, body = e.do("DELETE", "/v2/app/manifests/"+d.String(), nil)
	e.expect(resp, body, http.StatusAccepted)
	for _, ref := range []string{"v1", d.String()} {
		resp, body := e.do("GET", "/v2/app/manifests/"+ref, nil)
		e.expect(resp, body, http.StatusNotFound)
		if c := errCode(t, body); c != registry.CodeManifestUnknown {
			t.Fatalf("code %s", c)
		}
	}
}

func TestServer_TagsPagination(t *testing.T) {
	e := newEnv(t, nil)
	m := e.image("r", nil)
	for _, tag := range []string{"e", "a", "d", "c", "b"} {
		e.putManifest("r", tag, m)
	}
	tests := []struct {
		query string
		want  []string
		link  string
	}{
		{"", []string{"a", "b", "c", "d", "e"}, ""},
		{"?n=2", []string{"a", "b"}, `</v2/r/tags/list?last=b&n=2>; rel="next"`},
		{"?n=2&last=b", []string{"c", "d"}, `</v2/r/tags/list?last=d&n=2>; rel="next"`},
		{"?n=2&last=d", []string{"e"}, ""},
		{"?last=bb", []string{"c", "d", "e"}, ""},
		{"?n=0", []string{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.do("GET", "/v2/r/tags/list"+tc.query, nil)
			e.expect(resp, body, http.StatusOK)
			var tl struct {
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(body, &tl); err != nil {
				t.Fatal(err)
			}
			if tl.Name != "r" || fmt.Sprint(tl.Tags) != fmt.Sprint(tc.want) {
				t.Fatalf("got %s %v, want %v", tl.Name, tl.Tags, tc.want)
			}
			if got := resp.Header.Get("Link"); got != tc.link {
				t.Fatalf("Link %q, want %q", got, tc.link)
			}
		})
	}
	resp, body := e.do("GET", "/v2/nosuch/tags/list", nil)
	e.expect(resp, body, http.StatusNotFound)
	if c := errCode(t, body); c != registry.CodeNameUnknown {
		t.Fatalf("code %s", c)
	}
}

func TestServer_CatalogPagination(t *testing.T) {
	e := newEnv(t, nil)
	for _, r := range []string{"b/two", "a", "b/one", "c"} {
		e.pushBlob(r, []byte("x"))
	}
	resp, body := e.do("GET", "/v2/_catalog?n=3", nil)
	e.expect(resp, body, http.StatusOK)
	if string(body) != `{"repositories":["a","b/one","b/two"]}` {
		t.Fatalf("page 1: %s", body)
	}
	if resp.Header.Get("Link") != `</v2/_catalog?last=b%2Ftwo&n=3>; rel="next"` {
		t.Fatalf("Link %q", resp.Header.Get("Link"))
	}
	resp, body = e.do("GET", "/v2/_catalog?n=3&last=b/two", nil)
	e.expect(resp, body, http.StatusOK)
	if string(body) != `{"repositories":["c"]}` || resp.Header.Get("Link") != "" {
		t.Fatalf("page 2: %s %q", body, resp.Header.Get("Link"))
	}
}

func TestServer_Referrers(t *testing.T) {
	e := newEnv(t, nil)
	subject := e.putManifest("r", "base", e.image("r", nil))
	subj := map[string]any{"mediaType": registry.MediaTypeOCIManifest, "digest": subject, "size": 1}
	sig := e.image("r", map[string]any{"artifactType": "application/x.sig", "subject": subj, "annotations": map[string]string{"k": "v"}})
	resp, body := e.do("PUT", "/v2/r/manifests/sig", sig, "Content-Type", registry.MediaTypeOCIManifest)
	e.expect(resp, body, http.StatusCreated)
	if resp.Header.Get("OCI-Subject") != subject.String() {
		t.Fatalf("OCI-Subject %q", resp.Header.Get("OCI-Subject"))
	}
	sbom := e.image("r", map[string]any{"subject": subj})
	e.putManifest("r", "sbom", sbom)

	list := func(q string) ([]map[string]any, *http.Response) {
		resp, body := e.do("GET", "/v2/r/referrers/"+subject.String()+q, nil)
		e.expect(resp, body, http.StatusOK)
		var idx struct {
			MediaType string           `json:"mediaType"`
			Manifests []map[string]any `json:"manifests"`
		}
		if err := json.Unmarshal(body, &idx); err != nil || idx.MediaType != registry.MediaTypeOCIIndex {
			t.Fatalf("referrers: %s", body)
		}
		return idx.Manifests, resp
	}
	all, _ := list("")
	if len(all) != 2 {
		t.Fatalf("%d referrers", len(all))
	}
	got, resp := list("?artifactType=application/x.sig")
	if len(got) != 1 || got[0]["digest"] != digest.FromBytes(sig).String() || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered: %v", got)
	}
	// Without artifactType, an image's config media type stands in.
	got, _ = list("?artifactType=application/vnd.oci.image.config.v1%2Bjson")
	if len(got) != 1 || got[0]["digest"] != digest.FromBytes(sbom).String() {
		t.Fatalf("config type: %v", got)
	}
	e.do("DELETE", "/v2/r/manifests/"+digest.FromBytes(sig).String(), nil)
	if all, _ := list(""); len(all) != 1 {
		t.Fatalf("after delete: %v", all)
	}
	// An unknown subject has an empty list.
	if got, _ := list(""); got == nil {
		t.Fatal("manifests must be a list")
	}
}

func TestServer_Mount(t *testing.T) {
	e := newEnv(t, nil)
	d := e.pushBlob("src", []byte("shared layer"))
	resp, body := e.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil)
	e.expect(resp, body, http.StatusCreated)
	resp, body = e.do("GET", "/v2/dst/blobs/"+d.String(), nil)
	e.expect(resp, body, http.StatusOK)
	// A blob the source does not have starts an upload instead.
	missing := digest.FromString("missing")
	resp, body = e.do("POST", "/v2/dst/blobs/uploads/?mount="+missing.String()+"&from=src", nil)
	e.expect(resp, body, http.StatusAccepted)
	if resp.Header.Get("Location") == "" {
		t.Fatal("no upload location")
	}
}

func TestServer_BlobDelete(t *testing.T) {
	e := newEnv(t, nil)
	d := e.pushBlob("r", []byte("doomed"))
	resp, body := e.do("DELETE", "/v2/r/blobs/"+d.String(), nil)
	e.expect(resp, body, http.StatusAccepted)
	resp, body = e.do("GET", "/v2/r/blobs/"+d.String(), nil)
	e.expect(resp, body, http.StatusNotFound)
	if c := errCode(t, body); c != registry.CodeBlobUnknown {
		t.Fatalf("code %s", c)
	}
	resp, body = e.do("DELETE", "/v2/r/blobs/"+d.String(), nil)
	e.expect(resp, body, http.StatusNotFound)
}

func TestServer_ReadOnly(t *testing.T) {
	e := newEnv(t, func(c *registry.Config) { c.ReadOnly = true })
	resp, body := e.do("POST", "/v2/r/blobs/uploads/", nil)
	e.expect(resp, body, http.StatusMethodNotAllowed)
	if c := errCode(t, body); c != registry.CodeUnsupported {
		t.Fatalf("code %s", c)
	}
	resp, body = e.do("GET", "/v2/r/tags/list", nil)
	e.expect(resp, body, http.StatusNotFound)
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*registry.Config)
		ok   bool
	}{
		{"default", func(*registry.Config) {}, true},
		{"no root", func(c *registry.Config) { c.Root = "" }, false},
		{"cert without key", func(c *registry.Config) { c.TLSCert = "x" }, false},
		{"token without key", func(c *registry.Config) { c.Token.Realm = "https://auth" }, false},
		{"issue without users", func(c *registry.Config) { c.Token.Issue = true; c.Token.Key = "k" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := registry.DefaultConfig()
			tc.mod(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}
