package distribution_test

import (
	"context"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/opencontainers/go-digest"

	"berth/internal/content"
	"berth/internal/distribution"
	"berth/internal/image"
	"berth/internal/metadata"
	"berth/internal/snapshot"
	"berth/internal/testutil"
)

// stack is a client over a fresh image store.
type stack struct {
	client *distribution.Client
	images *image.Store
	cs     *content.Store
	snap   snapshot.Snapshotter
}

func newStack(t *testing.T, tune func(*distribution.Config)) *stack {
	t.Helper()
	dir := t.TempDir()
	db, err := metadata.Open(filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cs, err := content.New(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := snapshot.NewCopy(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	images := image.New(db, cs, snap, nil, nil)
	cfg := distribution.DefaultConfig()
	cfg.TempDir = filepath.Join(dir, "tmp")
	cfg.CertsDirs = nil
	cfg.Timeout = 10 * time.Second
	if tune != nil {
		tune(&cfg)
	}
	c, err := distribution.New(cfg, images, cs, snap)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{client: c, images: images, cs: cs, snap: snap}
}

// registryServer serves go-containerregistry's test registry on 127.0.0.1,
// behind wrap (when not nil). It returns host:port.
func registryServer(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// seed writes a random image with n layers of size bytes to ref.
func seed(t *testing.T, ref string, size int64, n int) v1.Image {
	t.Helper()
	img, err := random.Image(size, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img
}

// recorder collects progress messages.
type recorder struct {
	mu   sync.Mutex
	msgs []jsonstream.Message
}

func (r *recorder) fn(m jsonstream.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *recorder) has(status string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.HasPrefix(m.Status, status) {
			return true
		}
	}
	return false
}

func ctxT(t *testing.T) context.Context { return testutil.Context(t) }

func digestOf(s string) digest.Digest { return digest.Digest(s) }
