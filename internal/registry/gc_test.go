package registry_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/registry"
	"berth/internal/testutil"
)

func TestGC_KeepsReferencedRemovesUnreferenced(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := t0
	e := newEnv(t, func(c *registry.Config) { c.Now = func() time.Time { return clock } })
	m := e.image("app", nil)
	md := e.putManifest("app", "v1", m)
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + md.String() + `","size":` + itoa(len(m)) + `}]}`)
	resp, body := e.do("PUT", "/v2/app/manifests/multi", index, "Content-Type", registry.MediaTypeOCIIndex)
	e.expect(resp, body, http.StatusCreated)
	orphan := e.pushBlob("app", []byte("orphan layer"))
	untaggedGone := e.putManifest("other", "tmp", e.image("other", nil))
	resp, body = e.do("DELETE", "/v2/other/manifests/"+untaggedGone.String(), nil)
	e.expect(resp, body, http.StatusAccepted)
	resp, body = e.do("POST", "/v2/app/blobs/uploads/", nil)
	e.expect(resp, body, http.StatusAccepted)
	staleUpload := resp.Header.Get("Location")

	clock = t0.Add(2 * time.Hour)
	recent := e.pushBlob("app", []byte("pushed just now, manifest to follow"))

	ctx := testutil.Context(t)
	dry, err := registry.GC(ctx, e.root, registry.GCOptions{Now: func() time.Time { return clock }, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := registry.GC(ctx, e.root, registry.GCOptions{Now: func() time.Time { return clock.Add(24 * time.Hour) }, Grace: 25 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Removed) != len(dry.Removed) || rep.UploadsFreed != 1 {
		t.Fatalf("dry run %v, real run %+v", dry.Removed, rep)
	}
	if !slices.Contains(rep.Removed, orphan) || !slices.Contains(rep.Removed, untaggedGone) || slices.Contains(rep.Removed, recent) {
		t.Fatalf("removed %v", rep.Removed)
	}
	// The orphan, and other's manifest and layer (its config is app's).
	if len(rep.Removed) != 3 {
		t.Fatalf("removed %v", rep.Removed)
	}
	// Everything the tags reach is intact.
	for _, ref := range []string{"v1", "multi"} {
		resp, body := e.do("GET", "/v2/app/manifests/"+ref, nil)
		e.expect(resp, body, http.StatusOK)
	}
	var mf struct {
		Config struct{ Digest digest.Digest }   `json:"config"`
		Layers []struct{ Digest digest.Digest } `json:"layers"`
	}
	mustJSON(t, m, &mf)
	for _, d := range []digest.Digest{mf.Config.Digest, mf.Layers[0].Digest, recent} {
		resp, body := e.do("GET", "/v2/app/blobs/"+d.String(), nil)
		e.expect(resp, body, http.StatusOK)
	}
	resp, body = e.do("HEAD", "/v2/app/blobs/"+orphan.String(), nil)
	e.expect(resp, body, http.StatusNotFound)
	if _, err := os.Stat(filepath.Join(e.root, "repositories", "app", "_layers", "sha256", orphan.Encoded())); !os.IsNotExist(err) {
		t.Fatalf("link to a removed blob left: %v", err)
	}
	resp, body = e.do("GET", staleUpload, nil)
	e.expect(resp, body, http.StatusNotFound)
	// The registry still takes pushes afterwards.
	e.putManifest("app", "v2", e.image("app", map[string]any{"annotations": map[string]string{"after": "gc"}}))
}

func TestGC_CancelledContext(t *testing.T) {
	e := newEnv(t, nil)
	e.putManifest("app", "v1", e.image("app", nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := registry.GC(ctx, e.root, registry.GCOptions{}); err == nil {
		t.Fatal("GC ignored its cancelled context")
	}
}

// TestGC_WhileServing collects in a loop while images are pushed and
// checks that every pushed image stays whole.
func TestGC_WhileServing(t *testing.T) {
	e := newEnv(t, nil)
	ctx := testutil.Context(t)
	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if _, err := registry.GC(ctx, e.root, registry.GCOptions{}); err != nil {
				gcDone <- err
				return
			}
		}
	}()
	var tags []string
	for i := range 20 {
		tag := "v" + itoa(i)
		e.putManifest("app", tag, e.image("app", map[string]any{"annotations": map[string]string{"i": tag}}))
		tags = append(tags, tag)
	}
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	if _, err := registry.GC(ctx, e.root, registry.GCOptions{Grace: -1}); err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		resp, body := e.do("GET", "/v2/app/manifests/"+tag, nil)
		e.expect(resp, body, http.StatusOK)
		var mf struct {
			Config struct{ Digest digest.Digest }   `json:"config"`
			Layers []struct{ Digest digest.Digest } `json:"layers"`
		}
		mustJSON(t, body, &mf)
		for _, d := range []digest.Digest{mf.Config.Digest, mf.Layers[0].Digest} {
			resp, body := e.do("HEAD", "/v2/app/blobs/"+d.String(), nil)
			e.expect(resp, body, http.StatusOK)
		}
	}
}
