package archive_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/testutil"
)

func TestApply_Basic(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	suid := reg("bin/su", "su")
	suid.mode = 0o4755
	owned := reg("home/u/f", "owned")
	owned.uid, owned.gid = 1000, 1001
	sticky := dir("tmp/")
	sticky.mode = 0o1777
	withX := reg("x", "x")
	withX.xattrs = map[string]string{"user.k": "v", "trusted.overlay.opaque": "y"}
	lnk := symlink("abs", "/etc/passwd")
	lnk.mtime = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	dirT := dir("home/")
	dirT.mtime = time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC)
	fifo := ent{typ: tar.TypeFifo, name: "fifo", mode: 0o600}
	null := ent{typ: tar.TypeChar, name: "dev/null", mode: 0o666, major: 1, minor: 3}
	data := mkTar(t,
		dirT, suid, owned, sticky, withX, lnk,
		reg("bin/sh", "sh"), hardlink("bin/sh2", "bin/sh"), symlink("rel", "../x"),
		fifo, null,
	)
	root := t.TempDir()
	n, err := archive.Apply(ctx, root, bytes.NewReader(data), archive.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) {
		t.Errorf("consumed %d bytes, want %d", n, len(data))
	}
	check := func(name string, want os.FileMode) os.FileInfo {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
		return fi
	}
	check("bin/su", 0o755|os.ModeSetuid)
	check("bin", os.ModeDir|0o755)
	check("tmp", os.ModeDir|os.ModeSticky|0o777)
	check("fifo", os.ModeNamedPipe|0o600)
	check("dev/null", os.ModeDevice|os.ModeCharDevice|0o666)
	st := check("home/u/f", 0o644).Sys().(*syscallStat)
	if st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("owner %d:%d, want 1000:1001", st.Uid, st.Gid)
	}
	if fi := check("abs", os.ModeSymlink|0o777); !fi.ModTime().Equal(lnk.mtime) {
		t.Errorf("symlink mtime %v, want %v", fi.ModTime(), lnk.mtime)
	}
	if fi := check("home", os.ModeDir|0o755); !fi.ModTime().Equal(dirT.mtime) {
		t.Errorf("dir mtime %v, want %v (set after its contents)", fi.ModTime(), dirT.mtime)
	}
	if l, _ := os.Readlink(filepath.Join(root, "abs")); l != "/etc/passwd" {
		t.Errorf("absolute symlink target %q kept as %q", "/etc/passwd", l)
	}
	a, _ := os.Stat(filepath.Join(root, "bin/sh"))
	b, _ := os.Stat(filepath.Join(root, "bin/sh2"))
	if !os.SameFile(a, b) {
		t.Error("bin/sh2 is not a hard link of bin/sh")
	}
	if got := listXattrs(filepath.Join(root, "x")); got != "user.k=v" {
		t.Errorf("xattrs %q, want user.k=v (trusted.overlay.* dropped)", got)
	}
}

func TestApply_RoundTrip(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	owned := reg("a/owned", "o")
	owned.uid, owned.gid = 7, 8
	x := reg("a/x", "x")
	x.xattrs = map[string]string{"user.one": "1", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	src := mkTar(t,
		dir("a/"), x, owned, reg("a/b/c", "deep"), hardlink("a/b/hl", "a/x"),
		symlink("a/s", "/nowhere"), ent{typ: tar.TypeFifo, name: "p", mode: 0o640},
		ent{typ: tar.TypeChar, name: "dev/zero", mode: 0o666, major: 1, minor: 5},
		ent{typ: tar.TypeDir, name: "setgid/", mode: 0o2755},
	)
	one := t.TempDir()
	if _, err := archive.Apply(ctx, one, bytes.NewReader(src), archive.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := archive.Tar(ctx, &buf, one); err != nil {
		t.Fatal(err)
	}
	two := t.TempDir()
	if _, err := archive.Apply(ctx, two, bytes.NewReader(buf.Bytes()), archive.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// Tar truncates times to seconds; the source has whole seconds.
	a, b := snapshotTree(t, one), snapshotTree(t, two)
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %q after round trip, want %q", k, b[k], v)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: extra after round trip", k)
		}
	}
	entries := tarEntries(t, buf.Bytes())
	want := []string{"a/ 5", "a/b/ 5", "a/b/c 0", "a/b/hl 0", "a/owned 0", "a/s 2 /nowhere", "a/x 1 a/b/hl", "dev/ 5", "dev/zero 3", "p 6", "setgid/ 5"}
	if strings.Join(entries, "|") != strings.Join(want, "|") {
		t.Errorf("entries\n%q\nwant\n%q", entries, want)
	}
}

func TestApply_ReplacesExisting(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	root := t.TempDir()
	first := mkTar(t, dir("d/"), reg("d/keep", "k"), reg("f", "file"), dir("g/"), reg("g/child", "c"), symlink("s", "/etc/passwd"))
	second := mkTar(t, dir("d/"), reg("d/new", "n"), dir("f/"), reg("g", "now a file"), reg("s", "replaces the symlink"))
	for _, data := range [][]byte{first, second} {
		if _, err := archive.Apply(ctx, root, bytes.NewReader(data), archive.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	got := snapshotTree(t, root)
	for _, p := range []string{"d/keep", "d/new", "f", "g", "s"} {
		if _, ok := got[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	if fi, _ := os.Lstat(filepath.Join(root, "f")); !fi.IsDir() {
		t.Error("f did not become a directory")
	}
	if c, _ := os.ReadFile(filepath.Join(root, "s")); string(c) != "replaces the symlink" {
		t.Errorf("s = %q", c)
	}
}

func TestApply_WhiteoutsOverlay(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	root := t.TempDir()
	data := mkTar(t, dir("etc/"), reg("etc/.wh.passwd", ""), dir("opq/"), reg("opq/.wh..wh..opq", ""), reg("opq/new", "n"),
		reg("deep/dir/.wh..wh..opq", ""), reg(".wh.gone", ""))
	if _, err := archive.Apply(ctx, root, bytes.NewReader(data), archive.ApplyOptions{OverlayWhiteouts: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/passwd", "gone"} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, p), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("%s: mode %o rdev %d, want a 0/0 char device", p, st.Mode, st.Rdev)
		}
	}
	for _, p := range []string{"opq", "deep/dir"} {
		v := make([]byte, 8)
		n, err := unix.Lgetxattr(filepath.Join(root, p), "trusted.overlay.opaque", v)
		if err != nil || string(v[:n]) != "y" {
			t.Errorf("%s: trusted.overlay.opaque = %q, %v", p, v[:n], err)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/.wh.passwd")); !os.IsNotExist(err) {
		t.Error("whiteout file itself was extracted")
	}

	// Diff turns the overlay form back into OCI whiteouts.
	var buf bytes.Buffer
	if err := archive.Diff(ctx, &buf, root); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(tarEntries(t, buf.Bytes()), "|")
	// Sorted by the names on disk, so the whiteout of "gone" comes after
	// "etc".
	want := strings.Join([]string{"deep/ 5", "deep/dir/ 5", "deep/dir/.wh..wh..opq 0", "etc/ 5", "etc/.wh.passwd 0",
		".wh.gone 0", "opq/ 5", "opq/.wh..wh..opq 0", "opq/new 0"}, "|")
	if got != want {
		t.Errorf("diff entries\n%s\nwant\n%s", got, want)
	}
}

func TestApply_WhiteoutsMerged(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	root := t.TempDir()
	base := mkTar(t, reg("etc/passwd", "p"), reg("etc/group", "g"), reg("opq/old", "o"), reg("opq/sub/old", "o"),
		reg("opq/sub/keep-not", "o"), dir("gone/"), reg("gone/x", "x"))
	layer := mkTar(t, reg("etc/.wh.passwd", ""), reg(".wh.gone", ""), reg(".wh.missing", ""),
		reg("opq/sub/new", "n"), dir("opq/"), reg("opq/.wh..wh..opq", ""), reg("opq/new", "n"))
	for _, data := range [][]byte{base, layer} {
		if _, err := archive.Apply(ctx, root, bytes.NewReader(data), archive.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for k := range snapshotTree(t, root) {
		got = append(got, k)
	}
	want := map[string]bool{"etc": true, "etc/group": true, "opq": true, "opq/new": true, "opq/sub": true, "opq/sub/new": true}
	if len(got) != len(want) {
		t.Errorf("tree %q, want %v", got, want)
	}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected %s", g)
		}
	}
}

func TestApply_Hostile(t *testing.T) {
	testutil.Require(t, testutil.Root)
	long := strings.Repeat("x", 300)
	deep := strings.Repeat("d/", 3000) + "f"
	tests := []struct {
		name    string
		ents    []ent
		invalid bool // must fail with ErrInvalidArgument
	}{
		{"dotdot name", []ent{reg("../../etc/x", "x")}, true},
		{"dotdot inside", []ent{reg("a/../../x", "x")}, true},
		{"absolute name stays inside", []ent{reg("/etc/x", "x")}, false},
		{"absolute symlink then file through it", []ent{symlink("etc", "/etc"), reg("etc/passwd", "owned")}, false},
		{"symlink to slash then file", []ent{symlink("etc", "/"), reg("etc/passwd", "owned")}, false},
		{"relative escaping symlink dir", []ent{symlink("a", "../../.."), reg("a/x", "x")}, false},
		{"symlink chain", []ent{symlink("x", "y"), symlink("y", "../../../../.."), reg("x/z", "z"), dir("x/dd/"), symlink("x/dd/s", "/")}, false},
		{"hardlink absolute", []ent{hardlink("l", "/etc/passwd")}, false},
		{"hardlink outside", []ent{hardlink("l", "../outside")}, true},
		{"hardlink through symlink", []ent{symlink("e", "/etc"), hardlink("l", "e/passwd")}, false},
		{"hardlink to escaping symlink", []ent{symlink("s", "/etc/passwd"), hardlink("h", "s"), reg("h", "overwrite")}, false},
		{"file over escaping symlink", []ent{symlink("s", "../outside"), reg("s", "x")}, false},
		{"dir over escaping symlink", []ent{symlink("d", "/tmp"), dir("d/"), reg("d/x", "x")}, false},
		{"whiteout escaping", []ent{reg("../.wh.sentinel", "")}, true},
		{"whiteout through symlink", []ent{symlink("up", "../../.."), reg("up/.wh.sentinel", "")}, false},
		{"opaque through symlink", []ent{symlink("up", "../../.."), reg("up/.wh..wh..opq", "")}, false},
		{"whiteout dotdot", []ent{reg("a/.wh...", "")}, true},
		{"device node", []ent{{typ: tar.TypeBlock, name: "dev/sda", mode: 0o600, major: 8}}, false},
		{"device over symlink", []ent{symlink("n", "/dev/null"), {typ: tar.TypeChar, name: "n", mode: 0o666, major: 1, minor: 3}}, false},
		{"long component", []ent{reg(long, "x")}, false},
		{"long path", []ent{reg(deep, "x")}, false},
		{"unknown type", []ent{{typ: 'Z', name: "z"}}, true},
		{"root as file", []ent{reg(".", "x")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, overlay := range []bool{false, true} {
				data := mkTar(t, tc.ents...)
				parent, root := hostileRoot(t)
				_, err := archive.Apply(testutil.Context(t), root, bytes.NewReader(data), archive.ApplyOptions{OverlayWhiteouts: overlay})
				if tc.invalid && !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("overlay=%v: err = %v, want ErrInvalidArgument", overlay, err)
				}
				if err != nil && !strings.Contains(err.Error(), "apply") {
					t.Errorf("error %q does not say what failed", err)
				}
				checkContained(t, parent, root)
			}
		})
	}
}

// hostileRoot makes a root nested a few levels below a fresh parent, with a
// sentinel beside it, so that escapes of up to four levels land in parent.
func hostileRoot(t testing.TB) (parent, root string) {
	t.Helper()
	parent = t.TempDir()
	nest := filepath.Join(parent, "a", "b", "c")
	root = filepath.Join(nest, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nest, "sentinel"), []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	return parent, root
}

var passwdStat = func() unix.Stat_t {
	var st unix.Stat_t
	_ = unix.Stat("/etc/passwd", &st)
	return st
}

// checkContained fails if anything but root and its contents appeared in
// parent, if the sentinel changed, or if /etc/passwd was linked or changed.
func checkContained(t testing.TB, parent, root string) {
	t.Helper()
	nest := filepath.Dir(root)
	allowed := map[string]bool{parent: true, filepath.Join(parent, "a"): true, filepath.Join(parent, "a", "b"): true,
		nest: true, filepath.Join(nest, "sentinel"): true}
	before := passwdStat()
	err := filepath.Walk(parent, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == root || strings.HasPrefix(p, root+"/") {
			if st, ok := fi.Sys().(*syscallStat); ok && st.Ino == before.Ino && st.Dev == before.Dev {
				t.Errorf("%s is a hard link of /etc/passwd", p)
			}
			return nil
		}
		if !allowed[p] {
			t.Errorf("escaped: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk: %v", err)
	}
	if c, err := os.ReadFile(filepath.Join(nest, "sentinel")); err != nil || string(c) != "sentinel" {
		t.Errorf("sentinel changed: %q, %v", c, err)
	}
	if after := passwdStat(); after.Nlink != before.Nlink || after.Size != before.Size || after.Mtim != before.Mtim {
		t.Error("/etc/passwd changed")
	}
}

func TestApply_RejectsSparse(t *testing.T) {
	// An old-GNU sparse entry with no data and a 1 TiB hole: Go's tar
	// writer cannot make one, so the header is patched by hand.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "sparse", Typeflag: tar.TypeReg, Format: tar.FormatGNU, ModTime: testTime}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	b := buf.Bytes()
	b[156] = tar.TypeGNUSparse
	copy(b[483:495], fmt.Sprintf("%011o\x00", int64(1)<<40))
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	_, err := archive.Apply(testutil.Context(t), t.TempDir(), bytes.NewReader(b), archive.ApplyOptions{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("err = %v, want ErrInvalidArgument", err)
	}
}

func TestApply_Cancelled(t *testing.T) {
	ctx, cancel := contextWithCancel(t)
	cancel()
	_, err := archive.Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, reg("a", "a"))), archive.ApplyOptions{})
	if err == nil {
		t.Fatal("cancelled Apply succeeded")
	}
}
