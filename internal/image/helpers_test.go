package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"

	"berth/internal/content"
	"berth/internal/image"
	"berth/internal/metadata"
	"berth/internal/snapshot"
	"berth/internal/testutil"
)

// recorder is a Publisher that keeps the events.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Publish(typ events.Type, action events.Action, actor events.Actor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(typ)+" "+string(action)+" "+actor.Attributes["name"])
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type env struct {
	store *image.Store
	cs    *content.Store
	snap  snapshot.Snapshotter
	pub   *recorder
	root  string
}

// newEnv builds a Store over a real content store and an overlay
// snapshotter (the copy snapshotter where the temp dir cannot hold an
// overlay upper dir) in a fresh temp dir.
func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.Require(t, testutil.Root, testutil.Overlay)
	root := t.TempDir()
	db, err := metadata.Open(filepath.Join(root, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cs, err := content.New(filepath.Join(root, "content"))
	if err != nil {
		t.Fatal(err)
	}
	var snap snapshot.Snapshotter
	snapRoot := filepath.Join(root, "snapshots")
	if err := snapshot.CheckOverlay(t.Context(), snapRoot); err == nil {
		snap, err = snapshot.NewOverlay(snapRoot)
		if err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("overlay unusable in temp dir (%v): using the copy snapshotter", err)
		snap, err = snapshot.NewCopy(snapRoot)
		if err != nil {
			t.Fatal(err)
		}
	}
	pub := &recorder{}
	clock := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	return &env{store: image.New(db, cs, snap, pub, now), cs: cs, snap: snap, pub: pub, root: root}
}

// tarOf builds an uncompressed tar of regular files (name → content).
func tarOf(t testing.TB, files ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveEntry is one entry of a hand-made archive.
type archiveEntry struct {
	name, body, link string
	typ              byte
}

func archiveOf(t testing.TB, entries ...archiveEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(0, 0)}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// configFor returns a minimal image config JSON for the given layer tars.
func configFor(layers ...[]byte) string {
	var ids []string
	for _, l := range layers {
		ids = append(ids, `"`+digest.FromBytes(l).String()+`"`)
	}
	return `{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[` + join(ids) + `]}}`
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// validate runs the store's invariant checks on an image.
func (e *env) validate(t *testing.T, id digest.Digest) {
	t.Helper()
	if err := e.store.Validate(t.Context(), id); err != nil {
		t.Errorf("Validate(%s): %v", id, err)
	}
}
