package archive_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"berth/internal/archive"
)

// Docker's extractor applies a hard link header's mode to the linked inode;
// GNU tar writes the file's mode there, so layers made with it come out the
// same in berth as in Docker.
func TestApply_HardlinkHeaderModeApplies(t *testing.T) {
	root := t.TempDir()
	l := hardlink("bin/sh", "bin/busybox")
	l.mode = 0o750
	b := mkTar(t, dir("bin"), reg("bin/busybox", "x"), l)
	if _, err := archive.Apply(t.Context(), root, bytes.NewReader(b), archive.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(root, "bin/busybox"))
	if err != nil || st.Mode().Perm() != 0o750 {
		t.Fatalf("target mode %v, %v; want 0750", st.Mode(), err)
	}
}
