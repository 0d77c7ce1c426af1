package distribution_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/registry"

	"berth/internal/distribution"
	"berth/internal/snapshot"
)

func TestClient_PullThenPush(t *testing.T) {
	ctx := ctxT(t)
	host := registryServer(t, nil)
	src := seed(t, host+"/test/img:v1", 256<<10, 3)
	s := newStack(t, nil)

	rec := &recorder{}
	refs, err := s.client.Pull(ctx, host+"/test/img:v1", distribution.PullOptions{}, rec.fn)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != host+"/test/img:v1" {
		t.Fatalf("refs = %v", refs)
	}
	for _, want := range []string{"Pulling from test/img", "Pulling fs layer", "Downloading", "Download complete", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + host + "/test/img:v1"} {
		if !rec.has(want) {
			t.Errorf("no %q in progress", want)
		}
	}
	img, err := s.images.Get(ctx, host+"/test/img:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.images.Validate(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	wantManifest, _ := src.Digest()
	if img.ManifestDigest.String() != wantManifest.String() {
		t.Errorf("manifest digest %s, want %s", img.ManifestDigest, wantManifest)
	}
	if len(img.RepoDigests) != 1 || !strings.HasSuffix(img.RepoDigests[0], "@"+wantManifest.String()) {
		t.Errorf("repo digests %v", img.RepoDigests)
	}

	t.Run("again is up to date", func(t *testing.T) {
		rec := &recorder{}
		if _, err := s.client.Pull(ctx, host+"/test/img:v1", distribution.PullOptions{}, rec.fn); err != nil {
			t.Fatal(err)
		}
		if !rec.has("Status: Image is up to date for") {
			t.Errorf("progress %+v", rec.msgs)
		}
	})

	t.Run("push and pull back by digest", func(t *testing.T) {
		if err := s.images.Tag(ctx, img.ID.String(), host+"/other/img:v2"); err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		if err := s.client.Push(ctx, host+"/other/img:v2", distribution.PushOptions{}, rec.fn); err != nil {
			t.Fatal(err)
		}
		if !rec.has("v2: digest: " + img.ManifestDigest.String()) {
			t.Errorf("progress %+v", rec.msgs)
		}
		r, _ := name.ParseReference(host + "/other/img:v2")
		d, err := remote.Head(r)
		if err != nil {
			t.Fatal(err)
		}
		if d.Digest.String() != img.ManifestDigest.String() {
			t.Errorf("pushed %s, want %s", d.Digest, img.ManifestDigest)
		}
		rec = &recorder{}
		if err := s.client.Push(ctx, host+"/other/img:v2", distribution.PushOptions{}, rec.fn); err != nil {
			t.Fatal(err)
		}
		if !rec.has("Layer already exists") || rec.has("Pushed") {
			t.Errorf("second push progress %+v", rec.msgs)
		}
		fresh := newStack(t, nil)
		byDigest := host + "/other/img@" + img.ManifestDigest.String()
		if _, err := fresh.client.Pull(ctx, byDigest, distribution.PullOptions{}, nil); err != nil {
			t.Fatal(err)
		}
		got, err := fresh.images.Get(ctx, byDigest)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != img.ID {
			t.Errorf("pulled %s, want %s", got.ID, img.ID)
		}
	})

	t.Run("missing local image", func(t *testing.T) {
		err := s.client.Push(ctx, host+"/nope:v1", distribution.PushOptions{}, nil)
		var nl *distribution.NotLocalError
		if !errors.As(err, &nl) || !errdefs.IsNotFound(err) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestClient_PullAllTags(t *testing.T) {
	ctx := ctxT(t)
	host := registryServer(t, nil)
	seed(t, host+"/multi:a", 1024, 1)
	seed(t, host+"/multi:b", 1024, 1)
	s := newStack(t, nil)
	refs, err := s.client.Pull(ctx, host+"/multi", distribution.PullOptions{AllTags: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(refs) != fmt.Sprintf("[%s/multi:a %s/multi:b]", host, host) {
		t.Fatalf("refs = %v", refs)
	}
}

// cutOnce cuts the first GET of a large blob after half of it.
func cutOnce(ranges *[]string, mu *sync.Mutex) func(http.Handler) http.Handler {
	var cut atomic.Bool
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				mu.Lock()
				*ranges = append(*ranges, r.Header.Get("Range"))
				mu.Unlock()
				if !cut.Load() {
					rec := &bufWriter{header: http.Header{}}
					next.ServeHTTP(rec, r)
					if rec.buf.Len() > 64<<10 && cut.CompareAndSwap(false, true) {
						for k, v := range rec.header {
							w.Header()[k] = v
						}
						w.WriteHeader(rec.code)
						w.Write(rec.buf.Bytes()[:rec.buf.Len()/2])
						panic(http.ErrAbortHandler)
					}
					for k, v := range rec.header {
						w.Header()[k] = v
					}
					w.WriteHeader(rec.code)
					w.Write(rec.buf.Bytes())
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

type bufWriter struct {
	header http.Header
	code   int
	buf    bytes.Buffer
}

func (b *bufWriter) Header() http.Header { return b.header }
func (b *bufWriter) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}
func (b *bufWriter) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.buf.Write(p)
}

func TestClient_PullResumesCutDownload(t *testing.T) {
	ctx := ctxT(t)
	var mu sync.Mutex
	var ranges []string
	host := registryServer(t, cutOnce(&ranges, &mu))
	seed(t, host+"/resume:v1", 512<<10, 1)
	s := newStack(t, nil)
	rec := &recorder{}
	if _, err := s.client.Pull(ctx, host+"/resume:v1", distribution.PullOptions{}, rec.fn); err != nil {
		t.Fatal(err)
	}
	img, err := s.images.Get(ctx, host+"/resume:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.images.Validate(ctx, img.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	resumed := false
	for _, r := range ranges {
		if strings.HasPrefix(r, "bytes=") && r != "bytes=0-" {
			resumed = true
		}
	}
	if !resumed {
		t.Errorf("no range request; requests: %q", ranges)
	}
	if !rec.has("Retrying in") {
		t.Errorf("no retry in progress")
	}
}

func TestClient_PullRejectsCorruptBlob(t *testing.T) {
	ctx := ctxT(t)
	var layer string
	corrupt := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && layer != "" && strings.HasSuffix(r.URL.Path, "/blobs/"+layer) {
				rec := &bufWriter{header: http.Header{}}
				next.ServeHTTP(rec, r)
				b := rec.buf.Bytes()
				b[len(b)/2] ^= 0xff
				for k, v := range rec.header {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.code)
				w.Write(b)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	host := registryServer(t, corrupt)
	img := seed(t, host+"/bad:v1", 64<<10, 1)
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	diffID, _ := ls[0].DiffID()
	layer = d.String()
	s := newStack(t, nil)
	_, err := s.client.Pull(ctx, host+"/bad:v1", distribution.PullOptions{}, nil)
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.cs.Info(digestOf(d.String())); !errdefs.IsNotFound(err) {
		t.Errorf("corrupt blob stored: %v", err)
	}
	if s.snap.HasLayer(snapshot.ChainID(nil)) || s.snap.HasLayer(digestOf(diffID.String())) {
		t.Errorf("corrupt layer unpacked")
	}
	if _, err := s.images.Get(ctx, host+"/bad:v1"); !errdefs.IsNotFound(err) {
		t.Errorf("image recorded: %v", err)
	}
}

func TestClient_PullTimesOutOnHungServer(t *testing.T) {
	ctx := ctxT(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	hang := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") && r.Header.Get("Accept") == "" {
				w.Header().Set("Content-Length", "1000000")
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	host := registryServer(t, hang)
	seed(t, host+"/hang:v1", 1024, 1)
	s := newStack(t, func(c *distribution.Config) { c.Timeout = 300 * time.Millisecond; c.Retries = 0 })
	_, err := s.client.Pull(ctx, host+"/hang:v1", distribution.PullOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "no data from") || !errdefs.IsUnavailable(err) {
		t.Fatalf("err = %v", err)
	}
}

// tokenAuth puts a bearer-token flow in front of next: /token trades
// user:pass for a token scoped to what was asked.
func tokenAuth(t *testing.T, user, pass string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				u, p, ok := r.BasicAuth()
				if !ok || u != user || p != pass {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusUnauthorized)
					fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
					return
				}
				tok := base64.RawURLEncoding.EncodeToString([]byte(strings.Join(r.URL.Query()["scope"], " ")))
				fmt.Fprintf(w, `{"token":%q}`, "tok-"+tok)
				return
			}
			auth := r.Header.Get("Authorization")
			if !strings.HasPrefix(auth, "Bearer tok-") {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			if r.URL.Path != "/v2/" {
				scopes, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(auth, "Bearer tok-"))
				repo := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/", 2)[0]
				repo = strings.SplitN(repo, "/manifests/", 2)[0]
				if !strings.Contains(string(scopes), "repository:"+repo+":") {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestClient_TokenAuth(t *testing.T) {
	ctx := ctxT(t)
	plain := registryServer(t, nil)
	// The same registry storage is not shared, so seed through the token
	// server itself with basic credentials exchanged by ggcr.
	_ = plain
	host := registryServer(t, tokenAuth(t, "alice", "secret"))
	good := registry.AuthConfig{Username: "alice", Password: "secret", ServerAddress: host}
	s := newStack(t, nil)

	t.Run("login", func(t *testing.T) {
		resp, err := s.client.Login(ctx, good)
		if err != nil || resp.Status != "Login Succeeded" {
			t.Fatalf("login: %v %v", resp, err)
		}
		bad := good
		bad.Password = "wrong"
		_, err = s.client.Login(ctx, bad)
		if !errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "unauthorized: incorrect username or password") {
			t.Fatalf("bad login: %v", err)
		}
	})

	t.Run("push and pull with a token", func(t *testing.T) {
		src := newStack(t, nil)
		seedHost := registryServer(t, nil)
		seed(t, seedHost+"/tok/img:v1", 4096, 2)
		if _, err := src.client.Pull(ctx, seedHost+"/tok/img:v1", distribution.PullOptions{}, nil); err != nil {
			t.Fatal(err)
		}
		if err := src.images.Tag(ctx, seedHost+"/tok/img:v1", host+"/tok/img:v1"); err != nil {
			t.Fatal(err)
		}
		err := src.client.Push(ctx, host+"/tok/img:v1", distribution.PushOptions{}, nil)
		if !errdefs.IsUnauthorized(err) {
			t.Fatalf("anonymous push: %v", err)
		}
		if err := src.client.Push(ctx, host+"/tok/img:v1", distribution.PushOptions{Auth: good}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.client.Pull(ctx, host+"/tok/img:v1", distribution.PullOptions{Auth: good}, nil); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClient_PushMountsFromOtherRepository(t *testing.T) {
	ctx := ctxT(t)
	var mounts atomic.Int32
	var inner http.Handler
	mount := func(next http.Handler) http.Handler {
		inner = next
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The test registry's blobs are global: pretend repository
			// "b" has none until they are mounted or pushed.
			if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/b/") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" {
				if r.URL.Query().Get("from") == "a/img" {
					mounts.Add(1)
					w.Header().Set("Location", r.URL.Path+r.URL.Query().Get("mount"))
					w.WriteHeader(http.StatusCreated)
					return
				}
			}
			inner.ServeHTTP(w, r)
		})
	}
	host := registryServer(t, mount)
	seed(t, host+"/a/img:v1", 4096, 2)
	s := newStack(t, nil)
	if _, err := s.client.Pull(ctx, host+"/a/img:v1", distribution.PullOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.images.Tag(ctx, host+"/a/img:v1", host+"/b/img:v1"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := s.client.Push(ctx, host+"/b/img:v1", distribution.PushOptions{}, rec.fn); err != nil {
		t.Fatal(err)
	}
	if mounts.Load() != 3 || !rec.has("Mounted from a/img") {
		t.Errorf("mounts %d, progress %+v", mounts.Load(), rec.msgs)
	}
}
