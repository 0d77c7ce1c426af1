package content_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"berth/internal/content"
	"berth/internal/testutil"
)

func newStore(t *testing.T) (*content.Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := content.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

// files lists every regular file under dir.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestStore_IngestAndRead(t *testing.T) {
	ctx := testutil.Context(t)
	data := []byte("hello berth")
	sha256d := digest.FromBytes(data)
	sha512d := digest.SHA512.FromBytes(data)
	tests := []struct {
		name     string
		expected digest.Digest
		size     int64
		want     digest.Digest
	}{
		{"sha256", sha256d, int64(len(data)), sha256d},
		{"sha512", sha512d, int64(len(data)), sha512d},
		{"any", "", -1, sha256d},
		{"unknown size", sha256d, -1, sha256d},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			d, n, err := s.Ingest(ctx, bytes.NewReader(data), tc.expected, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if d != tc.want || n != int64(len(data)) {
				t.Fatalf("got %s %d, want %s %d", d, n, tc.want, len(data))
			}
			if want := filepath.Join(root, "blobs", d.Algorithm().String(), d.Encoded()); s.Path(d) != want {
				t.Errorf("path %s, want %s", s.Path(d), want)
			}
			f, err := s.Open(d)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("read %q", got)
			}
			if size, err := s.Info(d); err != nil || size != int64(len(data)) {
				t.Errorf("info = %d, %v", size, err)
			}
			if left := files(t, filepath.Join(root, "ingest")); len(left) != 0 {
				t.Errorf("ingest not empty: %v", left)
			}
		})
	}
}

func TestStore_CommitRejectsDigestMismatch(t *testing.T) {
	ctx := testutil.Context(t)
	data := []byte("payload")
	other := digest.FromString("something else")
	tests := []struct {
		name     string
		expected digest.Digest
		size     int64
		mention  []string
	}{
		{"wrong sha256", other, -1, []string{string(other), string(digest.FromBytes(data))}},
		{"wrong sha512", digest.SHA512.FromString("x"), -1, []string{string(digest.SHA512.FromString("x"))}},
		{"wrong size", digest.FromBytes(data), 3, []string{"expected 3"}},
		{"too long", digest.FromBytes(data[:3]), 3, []string{"size 4"}},
		{"invalid digest", "sha256:nothex", -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, root := newStore(t)
			_, _, err := s.Ingest(ctx, bytes.NewReader(data), tc.expected, tc.size)
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("err = %v, want ErrInvalidArgument", err)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if left := files(t, root); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

func TestWriter_CommitAfterUnannouncedAlgorithm(t *testing.T) {
	ctx := testutil.Context(t)
	s, _ := newStore(t)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "sha512 without notice")
	want := digest.SHA512.FromString("sha512 without notice")
	d, _, err := w.Commit(ctx, want, -1)
	if err != nil || d != want {
		t.Fatalf("commit = %s, %v", d, err)
	}
	if _, _, err := w.Commit(ctx, want, -1); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("second commit: %v", err)
	}
}

func TestWriter_CloseAborts(t *testing.T) {
	ctx := testutil.Context(t)
	s, root := newStore(t)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "abandoned")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if left := files(t, root); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after close succeeded")
	}
}

func TestStore_ConcurrentCommitsOfSameContent(t *testing.T) {
	ctx := testutil.Context(t)
	s, root := newStore(t)
	data := bytes.Repeat([]byte("same"), 1<<16)
	want := digest.FromBytes(data)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			d, _, err := s.Ingest(ctx, bytes.NewReader(data), want, int64(len(data)))
			if err == nil && d != want {
				err = errors.New("wrong digest " + string(d))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if left := files(t, filepath.Join(root, "ingest")); len(left) != 0 {
		t.Errorf("ingest not empty: %v", left)
	}
	var seen []digest.Digest
	if err := s.Walk(func(d digest.Digest, size int64) error {
		seen = append(seen, d)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != want {
		t.Errorf("walk saw %v", seen)
	}
}

func TestStore_MissingAndDelete(t *testing.T) {
	ctx := testutil.Context(t)
	s, _ := newStore(t)
	missing := digest.FromString("missing")
	if _, err := s.Open(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("open: %v", err)
	}
	if _, err := s.Info(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("info: %v", err)
	}
	if err := s.Delete(missing); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("delete: %v", err)
	}
	if _, err := s.Open("sha256:../../etc/passwd"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("open of a hostile digest: %v", err)
	}
	if s.Path("sha256:../../x") != "" {
		t.Error("Path accepted a hostile digest")
	}
	d, err := s.WriteBlob(ctx, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	// Writing it again is fine.
	if d2, err := s.WriteBlob(ctx, []byte("x")); err != nil || d2 != d {
		t.Fatalf("rewrite = %s, %v", d2, err)
	}
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Info(d); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("info after delete: %v", err)
	}
}

func TestNew_CleansStaleIngest(t *testing.T) {
	ctx := testutil.Context(t)
	s, root := newStore(t)
	w, err := s.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "crashed mid-write")
	// Simulate a crash: the writer is never closed.
	if _, err := content.New(root); err != nil {
		t.Fatal(err)
	}
	if left := files(t, filepath.Join(root, "ingest")); len(left) != 0 {
		t.Errorf("stale ingest files survived: %v", left)
	}
	w.Close()
}
