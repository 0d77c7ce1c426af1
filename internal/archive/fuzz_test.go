package archive_test

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"berth/internal/archive"
	"berth/internal/testutil"
)

// FuzzApply feeds arbitrary tar streams to Apply and checks that nothing is
// ever created outside the target directory.
func FuzzApply(f *testing.F) {
	seeds := [][]ent{
		{reg("../../etc/x", "x")},
		{symlink("etc", "/etc"), reg("etc/passwd", "owned")},
		{symlink("a", "../../.."), reg("a/x", "x")},
		{symlink("a", "../../.."), dir("a/d/"), reg("a/d/.wh..wh..opq", "")},
		{hardlink("l", "/etc/passwd")},
		{hardlink("l", "../outside")},
		{symlink("s", "../sentinel"), hardlink("h", "s"), reg("s", "x")},
		{{typ: tar.TypeChar, name: "dev/null", mode: 0o666, major: 1, minor: 3}},
		{{typ: tar.TypeFifo, name: "../fifo", mode: 0o666}},
		{reg(strings.Repeat("n", 200)+"/"+strings.Repeat("m", 200), "long")},
		{dir("d/"), reg("d/.wh..wh..opq", ""), reg("d/.wh.x", ""), reg(".wh.d", "")},
		{reg(".", "root as a file")},
	}
	for _, s := range seeds {
		f.Add(mkTar(f, s...), false)
		f.Add(mkTar(f, s...), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, overlay bool) {
		parent, root := hostileRoot(t)
		ctx := testutil.Context(t)
		_, _ = archive.Apply(ctx, root, bytes.NewReader(data), archive.ApplyOptions{OverlayWhiteouts: overlay})
		checkContained(t, parent, root)
	})
}
