package archive_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent describes one tar entry for a test archive.
type ent struct {
	typ    byte
	name   string
	body   string
	link   string
	mode   int64
	uid    int
	gid    int
	xattrs map[string]string
	major  int64
	minor  int64
	mtime  time.Time
}

var testTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func reg(name, body string) ent { return ent{typ: tar.TypeReg, name: name, body: body, mode: 0o644} }
func dir(name string) ent       { return ent{typ: tar.TypeDir, name: name, mode: 0o755} }
func symlink(name, target string) ent {
	return ent{typ: tar.TypeSymlink, name: name, link: target, mode: 0o777}
}
func hardlink(name, target string) ent { return ent{typ: tar.TypeLink, name: name, link: target} }

// mkTar builds a tar stream from ents, without validating names.
func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		mt := e.mtime
		if mt.IsZero() {
			mt = testTime
		}
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			Size:     int64(len(e.body)),
			ModTime:  mt,
			Devmajor: e.major,
			Devminor: e.minor,
			Format:   tar.FormatPAX,
		}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		for k, v := range e.xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %s: %v", e.name, err)
		}
		if hdr.Size > 0 {
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

// tarEntries lists the entries of a tar stream as "name type [link]" lines.
func tarEntries(t testing.TB, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		s := hdr.Name + " " + string(hdr.Typeflag)
		if hdr.Linkname != "" {
			s += " " + hdr.Linkname
		}
		out = append(out, s)
	}
	return out
}

// snapshotTree describes every file under root: type, mode, owner, size or
// target, mtime (not for dirs' atime), content, and user/security xattrs.
func snapshotTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		var b strings.Builder
		b.WriteString(fi.Mode().String())
		b.WriteString(" " + strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid)))
		b.WriteString(" " + fi.ModTime().UTC().Format(time.RFC3339))
		switch {
		case fi.Mode().IsRegular():
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b.WriteString(" " + string(c))
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			b.WriteString(" -> " + l)
		case fi.Mode()&os.ModeDevice != 0:
			b.WriteString(" dev " + strconv.Itoa(int(unix.Major(st.Rdev))) + "," + strconv.Itoa(int(unix.Minor(st.Rdev))))
		}
		b.WriteString(" " + listXattrs(p))
		out[rel] = b.String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func listXattrs(p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return ""
	}
	var names []string
	for _, n := range strings.Split(string(buf[:n]), "\x00") {
		if n == "" {
			continue
		}
		v := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, n, v)
		if err != nil {
			continue
		}
		names = append(names, n+"="+string(v[:m]))
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
