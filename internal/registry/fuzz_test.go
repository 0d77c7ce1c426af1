package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}`,
		`{"schemaVersion":2,"manifests":[{"digest":"sha512:` + strings.Repeat("0", 128) + `","size":1,"data":"AA=="}]}`,
		`{"schemaVersion":2,"config":{"digest":"sha256:../../etc/passwd","size":-1}}`,
		`{"schemaVersion":1,"fsLayers":[]}`,
		`{"schemaVersion":2}{"schemaVersion":2}`,
		`[]`, `null`, `{"schemaVersion":2,"layers":null,"config":null}`, "\x00\xff",
		`{"schemaVersion":2,"subject":{"digest":"sha256:` + strings.Repeat("a", 64) + `"},"config":{"digest":"sha256:` + strings.Repeat("a", 64) + `"}}`,
	} {
		f.Add("", []byte(s))
		f.Add(MediaTypeOCIIndex, []byte(s))
	}
	f.Add("application/vnd.oci.image.manifest.v1+json; charset=\"", []byte(`{}`))
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		m, mt, err := parseManifest(ctype, body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		blobs, children := references(m)
		for _, d := range append(blobs, children...) {
			if _, err := parseDigest(d.Digest.String()); err != nil {
				t.Fatalf("accepted manifest references invalid digest %q", d.Digest)
			}
		}
		if mt != m.MediaType || mt == "" {
			t.Fatalf("media type %q vs %q", mt, m.MediaType)
		}
		referrerOf(m, digest.FromBytes(body), int64(len(body)))
	})
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{
		"/v2/", "/v2/_catalog", "/v2/a/b/blobs/uploads/", "/v2/a/blobs/uploads/0123",
		"/v2/blobs/uploads/blobs/sha256:x", "/v2/a/manifests/manifests/latest", "/v2/x/tags/list",
		"/v2/x/referrers/sha256:aa", "/v2//blobs/", "/v2/../../etc/manifests/x", "/v2/a/blobs",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, ok := parseRoute(p)
		if !ok || rt.name == "" {
			return
		}
		// A name that passes validation must stay inside the storage root.
		if validName(rt.name) && (strings.Contains(rt.name, "..") || strings.HasPrefix(rt.name, "/") || strings.HasPrefix(rt.name, "_")) {
			t.Fatalf("name %q escapes the storage root", rt.name)
		}
		if strings.Contains(rt.arg, "/") {
			t.Fatalf("argument %q holds a slash", rt.arg)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-99", "bytes 0-99/100", "bytes=5-4", "-1-2", "9223372036854775807-9223372036854775807", "", "a-b", "1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, end, ok, err := parseContentRange(v)
		if err == nil && ok && (start < 0 || end < start) {
			t.Fatalf("%q gave %d-%d", v, start, end)
		}
	})
}

func FuzzTokenParse(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	ta := &tokenAuth{cfg: TokenConfig{Issuer: "i", Service: "s"}, now: func() time.Time { return now }, pub: key.Public(), priv: key, alg: "ES256"}
	good, err := ta.issue(claims{Issuer: "i", Audience: audience{"s"}, Expiry: now.Add(time.Hour).Unix(), Access: []accessEl{{"repository", "a", []string{"pull"}}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJpIiwiYXVkIjoicyIsImV4cCI6OTk5OTk5OTk5OX0.")
	f.Add("a.b.c")
	f.Add("...")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ta.parse(tok)
		// Only a token carrying a valid signature may pass; ECDSA
		// signatures are not unique, so equality with good is not required.
		if err == nil && (len(strings.Split(tok, ".")) != 3 || c.Issuer != "i" || !slices.Contains(c.Audience, "s")) {
			t.Fatalf("accepted %q", tok)
		}
	})
}

func FuzzHtpasswd(f *testing.F) {
	f.Add([]byte("alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n# c\n\nbob:plain"), "alice", "secret")
	f.Add([]byte(":\n:::\nx:$2y$05$abc"), "", "")
	f.Fuzz(func(t *testing.T, file []byte, user, pass string) {
		h, err := parseHtpasswd(file)
		if err != nil {
			return
		}
		if _, ok := h[user]; !ok && h.verify(user, pass) {
			t.Fatalf("unknown user %q verified", user)
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:a/b:pull,push", "registry:catalog:*", "repository:localhost:5000/a:pull", ":::", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		sc, ok := parseScope(v)
		if ok && (sc.Type == "" || strings.Contains(sc.Type, ":")) {
			t.Fatalf("%q gave %+v", v, sc)
		}
	})
}
