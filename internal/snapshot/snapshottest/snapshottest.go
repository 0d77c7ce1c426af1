// Package snapshottest is the conformance suite that every
// snapshot.Snapshotter implementation runs.
package snapshottest

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"berth/internal/snapshot"
	"berth/internal/testutil"
)

// Entry is one entry of a test layer: a directory when Name ends in "/", a
// symlink when Link is set, otherwise a regular file holding Body.
type Entry struct {
	Name string
	Body string
	Link string
}

// Layer builds an uncompressed layer tar of entries and returns it with its
// diff ID.
func Layer(t testing.TB, entries ...Entry) ([]byte, digest.Digest) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.Name, Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(e.Body)), Format: tar.FormatPAX}
		switch {
		case strings.HasSuffix(e.Name, "/"):
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		case e.Link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode, hdr.Size = tar.TypeSymlink, e.Link, 0o777, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), digest.FromBytes(buf.Bytes())
}

// MountDir makes a directory to mount on and unmounts it in t.Cleanup,
// whether or not the test mounted anything there.
func MountDir(t testing.TB, s snapshot.Snapshotter) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := s.Unmount(testutil.Context(t), dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

// Run runs the suite against snapshotters made by newSnapshotter on fresh
// roots. It needs root and mounts, and unmounts everything it mounts.
func Run(t *testing.T, newSnapshotter func(t *testing.T, root string) snapshot.Snapshotter) {
	testutil.Require(t, testutil.Root)
	tests := []struct {
		name string
		fn   func(t *testing.T, s snapshot.Snapshotter, root string)
	}{
		{"layers seen through mount", testLayersThroughMount},
		{"rw changes land in upper dir", testChangesInUpper},
		{"empty rootfs", testEmptyRootfs},
		{"apply is idempotent", testApplyIdempotent},
		{"missing parent", testMissingParent},
		{"failed apply leaves nothing", testFailedApply},
		{"prepare conflicts", testPrepareConflicts},
		{"remove cleans up", testRemoveCleansUp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.fn(t, newSnapshotter(t, root), root)
		})
	}
	t.Run("survives reopen", func(t *testing.T) {
		root := t.TempDir()
		testReopenWith(t, newSnapshotter, root)
	})
}

// apply applies layers in order and returns their chain IDs.
func apply(t *testing.T, s snapshot.Snapshotter, layers ...[]byte) []digest.Digest {
	t.Helper()
	ctx := testutil.Context(t)
	var diffIDs []digest.Digest
	for _, l := range layers {
		diffIDs = append(diffIDs, digest.FromBytes(l))
	}
	chain := snapshot.ChainIDs(diffIDs)
	var parent digest.Digest
	for i, l := range layers {
		n, err := s.ApplyLayer(ctx, parent, chain[i], bytes.NewReader(l))
		if err != nil {
			t.Fatalf("apply layer %d: %v", i, err)
		}
		if n != int64(len(l)) {
			t.Errorf("layer %d: read %d bytes, want %d", i, n, len(l))
		}
		if !s.HasLayer(chain[i]) {
			t.Fatalf("layer %d missing after apply", i)
		}
		parent = chain[i]
	}
	return chain
}

// tree lists the files under dir as "path" or "path=content" (files) or
// "path->target" (symlinks), sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case rel == ".":
			return nil
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel += "=" + string(b)
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			rel += "->" + l
		case fi.IsDir():
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func wantTree(t *testing.T, dir string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := tree(t, dir); !slices.Equal(got, want) {
		t.Errorf("tree of %s:\n got %q\nwant %q", dir, got, want)
	}
}

func mount(t *testing.T, s snapshot.Snapshotter, key string, parent digest.Digest) string {
	t.Helper()
	ctx := testutil.Context(t)
	if err := s.Prepare(ctx, key, parent); err != nil {
		t.Fatal(err)
	}
	dir := MountDir(t, s)
	if err := s.Mount(ctx, key, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testLayersThroughMount(t *testing.T, s snapshot.Snapshotter, _ string) {
	base, _ := Layer(t,
		Entry{Name: "etc/"}, Entry{Name: "etc/passwd", Body: "root"}, Entry{Name: "etc/group", Body: "g"},
		Entry{Name: "opq/"}, Entry{Name: "opq/old", Body: "o"}, Entry{Name: "opq/sub/"}, Entry{Name: "opq/sub/old", Body: "o"},
		Entry{Name: "gone/"}, Entry{Name: "gone/x", Body: "x"}, Entry{Name: "bin/"}, Entry{Name: "bin/sh", Body: "sh"},
		Entry{Name: "link", Link: "/bin/sh"})
	mid, _ := Layer(t,
		Entry{Name: "etc/"}, Entry{Name: "etc/passwd", Body: "root+user"}, Entry{Name: "etc/.wh.group"},
		Entry{Name: "opq/"}, Entry{Name: "opq/.wh..wh..opq"}, Entry{Name: "opq/new", Body: "n"},
		Entry{Name: ".wh.gone"}, Entry{Name: "added", Body: "a"})
	top, _ := Layer(t, Entry{Name: "gone/"}, Entry{Name: "gone/back", Body: "b"}, Entry{Name: ".wh.link"})
	chain := apply(t, s, base, mid, top)

	dir := mount(t, s, "c1", chain[2])
	wantTree(t, dir, "etc/", "etc/passwd=root+user", "opq/", "opq/new=n", "gone/", "gone/back=b",
		"bin/", "bin/sh=sh", "added=a")

	// A container on a lower layer of the same chain sees that layer only.
	dir2 := mount(t, s, "c2", chain[0])
	wantTree(t, dir2, "etc/", "etc/passwd=root", "etc/group=g", "opq/", "opq/old=o", "opq/sub/", "opq/sub/old=o",
		"gone/", "gone/x=x", "bin/", "bin/sh=sh", "link->/bin/sh")
}

func testChangesInUpper(t *testing.T, s snapshot.Snapshotter, _ string) {
	ctx := testutil.Context(t)
	base, _ := Layer(t, Entry{Name: "a", Body: "a"}, Entry{Name: "d/"}, Entry{Name: "d/f", Body: "f"})
	chain := apply(t, s, base)
	dir := mount(t, s, "c", chain[0])
	if err := os.WriteFile(filepath.Join(dir, "new"), bytes.Repeat([]byte("x"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d/f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	upper := s.UpperDir("c")
	for p, want := range map[string]string{"new": strings.Repeat("x", 4096), "d/f": "changed"} {
		b, err := os.ReadFile(filepath.Join(upper, p))
		if err != nil || string(b) != want {
			t.Errorf("%s in upper dir: %.20q, %v", p, b, err)
		}
	}
	n, err := s.Usage(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	if n < 4096 {
		t.Errorf("usage %d, want at least 4096", n)
	}
	// The layer itself is untouched.
	dir2 := mount(t, s, "c2", chain[0])
	wantTree(t, dir2, "a=a", "d/", "d/f=f")
}

func testEmptyRootfs(t *testing.T, s snapshot.Snapshotter, _ string) {
	dir := mount(t, s, "empty", "")
	wantTree(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.UpperDir("empty"), "f")); err != nil {
		t.Error(err)
	}
}

func testApplyIdempotent(t *testing.T, s snapshot.Snapshotter, _ string) {
	ctx := testutil.Context(t)
	l, d := Layer(t, Entry{Name: "a", Body: "a"})
	apply(t, s, l)
	n, err := s.ApplyLayer(ctx, "", d, bytes.NewReader([]byte("not even a tar")))
	if err != nil || n != 0 {
		t.Errorf("second apply = %d, %v; want a no-op", n, err)
	}
	layers, err := s.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(layers, []digest.Digest{d}) {
		t.Errorf("layers %v, want [%s]", layers, d)
	}
}

func testMissingParent(t *testing.T, s snapshot.Snapshotter, _ string) {
	ctx := testutil.Context(t)
	l, d := Layer(t, Entry{Name: "a", Body: "a"})
	missing := digest.FromString("missing")
	if _, err := s.ApplyLayer(ctx, missing, snapshot.ChainID([]digest.Digest{missing, d}), bytes.NewReader(l)); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("apply on a missing parent: %v, want ErrNotFound", err)
	}
	if err := s.Prepare(ctx, "c", missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("prepare on a missing parent: %v, want ErrNotFound", err)
	}
	if err := s.Mount(ctx, "nope", t.TempDir()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("mount of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.Remove(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.RemoveLayer(ctx, missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove of a missing layer: %v, want ErrNotFound", err)
	}
	if _, err := s.Usage(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("usage of a missing key: %v, want ErrNotFound", err)
	}
}

// failingReader yields a valid tar and then fails, as a digest-verifying
// reader does at EOF on a mismatch.
type failingReader struct{ r *bytes.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil {
		return n, errors.New("digest mismatch")
	}
	return n, nil
}

func testFailedApply(t *testing.T, s snapshot.Snapshotter, root string) {
	ctx := testutil.Context(t)
	hostile, d := Layer(t, Entry{Name: "ok", Body: "x"}, Entry{Name: "../../escape", Body: "x"})
	if _, err := s.ApplyLayer(ctx, "", d, bytes.NewReader(hostile)); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("hostile layer: %v, want ErrInvalidArgument", err)
	}
	good, d2 := Layer(t, Entry{Name: "ok", Body: "x"})
	if _, err := s.ApplyLayer(ctx, "", d2, failingReader{bytes.NewReader(good)}); err == nil {
		t.Error("apply succeeded although its reader failed")
	}
	for _, id := range []digest.Digest{d, d2} {
		if s.HasLayer(id) {
			t.Errorf("layer %s visible after a failed apply", id)
		}
	}
	if layers, _ := s.Layers(); len(layers) != 0 {
		t.Errorf("layers %v after failed applies", layers)
	}
	if _, err := os.Stat(filepath.Join(root, "..", "escape")); err == nil {
		t.Error("hostile layer wrote outside")
	}
}

func testPrepareConflicts(t *testing.T, s snapshot.Snapshotter, _ string) {
	ctx := testutil.Context(t)
	if err := s.Prepare(ctx, "c", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(ctx, "c", ""); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second prepare: %v, want ErrAlreadyExists", err)
	}
	for _, key := range []string{"", ".", "..", "a/b", "../x"} {
		if err := s.Prepare(ctx, key, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("prepare %q: %v, want ErrInvalidArgument", key, err)
		}
	}
}

func testRemoveCleansUp(t *testing.T, s snapshot.Snapshotter, root string) {
	ctx := testutil.Context(t)
	l1, _ := Layer(t, Entry{Name: "a", Body: "a"})
	l2, _ := Layer(t, Entry{Name: "b", Body: "b"})
	chain := apply(t, s, l1, l2)
	dir := mount(t, s, "c", chain[1])
	if err := os.WriteFile(filepath.Join(dir, "rw"), []byte("rw"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveLayer(ctx, chain[1]); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove of a layer under a container: %v, want ErrConflict", err)
	}
	if err := s.RemoveLayer(ctx, chain[0]); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("remove of a layer under a layer: %v, want ErrConflict", err)
	}
	if err := s.Unmount(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(ctx, dir); err != nil {
		t.Errorf("second unmount: %v", err)
	}
	if err := s.Remove(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.UpperDir("c")); !os.IsNotExist(err) {
		t.Errorf("upper dir still there: %v", err)
	}
	for _, id := range []digest.Digest{chain[1], chain[0]} {
		if err := s.RemoveLayer(ctx, id); err != nil {
			t.Fatal(err)
		}
		if s.HasLayer(id) {
			t.Errorf("layer %s still there", id)
		}
	}
	if layers, _ := s.Layers(); len(layers) != 0 {
		t.Errorf("layers left: %v", layers)
	}
	for _, sub := range []string{"layers", "rw", "tmp"} {
		if entries, _ := os.ReadDir(filepath.Join(root, sub)); len(entries) != 0 {
			t.Errorf("%s/ not empty: %v", sub, entries)
		}
	}
}

func testReopenWith(t *testing.T, newSnapshotter func(t *testing.T, root string) snapshot.Snapshotter, root string) {
	s := newSnapshotter(t, root)
	l, _ := Layer(t, Entry{Name: "a", Body: "a"})
	chain := apply(t, s, l)
	if err := os.MkdirAll(filepath.Join(root, "tmp", "layer-crashed", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	s2 := newSnapshotter(t, root)
	if !s2.HasLayer(chain[0]) {
		t.Error("layer lost on reopen")
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "tmp")); len(entries) != 0 {
		t.Errorf("tmp/ not cleaned on reopen: %v", entries)
	}
	dir := mount(t, s2, "c", chain[0])
	wantTree(t, dir, "a=a")
}
