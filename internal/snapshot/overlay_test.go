package snapshot_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/snapshot"
	"berth/internal/snapshot/snapshottest"
	"berth/internal/testutil"
)

func newOverlay(opts ...snapshot.OverlayOption) func(t *testing.T, root string) snapshot.Snapshotter {
	return func(t *testing.T, root string) snapshot.Snapshotter {
		testutil.Require(t, testutil.Root, testutil.Overlay)
		if err := snapshot.CheckOverlay(testutil.Context(t), root); err != nil {
			t.Fatal(err)
		}
		s, err := snapshot.NewOverlay(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestOverlay_Suite(t *testing.T) {
	snapshottest.Run(t, newOverlay())
}

func TestOverlay_SuiteClassicMount(t *testing.T) {
	snapshottest.Run(t, newOverlay(snapshot.WithClassicMount()))
}

func TestCopy_Suite(t *testing.T) {
	snapshottest.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		testutil.Require(t, testutil.Root)
		s, err := snapshot.NewCopy(root)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestOverlay_ManyLayers stacks more layers than the classic mount option
// string of long paths can name and checks that every file shows.
func TestOverlay_ManyLayers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []snapshot.OverlayOption
	}{
		{"new mount api", nil},
		{"classic mount", []snapshot.OverlayOption{snapshot.WithClassicMount()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 130
			ctx := testutil.Context(t)
			// A long root makes the long-path option string overflow a page.
			root := filepath.Join(t.TempDir(), "a-rather-long-directory-name-for-the-snapshotter-root")
			s := newOverlay(tc.opts...)(t, root)
			var diffIDs []digest.Digest
			var parent digest.Digest
			for i := range n {
				l, d := snapshottest.Layer(t, snapshottest.Entry{Name: fmt.Sprintf("f%03d", i), Body: strconv.Itoa(i)})
				diffIDs = append(diffIDs, d)
				id := snapshot.ChainID(diffIDs)
				if _, err := s.ApplyLayer(ctx, parent, id, bytes.NewReader(l)); err != nil {
					t.Fatal(err)
				}
				parent = id
			}
			if err := s.Prepare(ctx, "c", parent); err != nil {
				t.Fatal(err)
			}
			dir := snapshottest.MountDir(t, s)
			if err := s.Mount(ctx, "c", dir); err != nil {
				t.Fatal(err)
			}
			for i := range n {
				b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)))
				if err != nil || string(b) != strconv.Itoa(i) {
					t.Errorf("f%03d: %q, %v", i, b, err)
				}
			}
		})
	}
}
