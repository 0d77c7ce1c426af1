// Package content is berth's content-addressed blob store.
//
// Blobs live at root/blobs/<algorithm>/<hex> and are written once: a Writer
// streams into a temporary file under root/ingest, hashing as it goes, and
// Commit verifies digest and size, syncs the file and renames it into place,
// so a blob is either complete and verified or not visible at all, even
// across a crash. Stale temporary files are removed by New.
//
// A Store is safe for concurrent use; committing the same content twice (or
// concurrently) is harmless. Reference counting and garbage collection are
// the callers' business: Delete removes a blob unconditionally.
package content

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"berth/internal/log"
)

// Store is a content-addressed blob store on a local file system.
type Store struct {
	root string
}

// New opens (creating if needed) the store at root and removes temporary
// files left by writers that never finished.
func New(root string) (*Store, error) {
	s := &Store{root: root}
	for _, d := range []string{s.blobsDir(), s.ingestDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("content store: %w", err)
		}
	}
	entries, err := os.ReadDir(s.ingestDir())
	if err != nil {
		return nil, fmt.Errorf("content store: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.ingestDir(), e.Name())); err != nil {
			return nil, fmt.Errorf("content store: clean ingest: %w", err)
		}
	}
	return s, nil
}

func (s *Store) blobsDir() string  { return filepath.Join(s.root, "blobs") }
func (s *Store) ingestDir() string { return filepath.Join(s.root, "ingest") }

// Path returns the file that holds the blob d (which may not exist), or ""
// when d is not a valid digest.
func (s *Store) Path(d digest.Digest) string {
	if d.Validate() != nil {
		return ""
	}
	return filepath.Join(s.blobsDir(), d.Algorithm().String(), d.Encoded())
}

func (s *Store) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %v: %w", d, err, errdefs.ErrInvalidArgument)
	}
	return s.Path(d), nil
}

// Open opens the blob d for reading. The caller closes the file. A missing
// blob gives errdefs.ErrNotFound, an invalid digest ErrInvalidArgument.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// Info returns the size of the blob d, or errdefs.ErrNotFound.
func (s *Store) Info(d digest.Digest) (int64, error) {
	p, err := s.path(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return fi.Size(), nil
}

// Delete removes the blob d, or returns errdefs.ErrNotFound.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.path(d)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every blob in the store, by algorithm and then digest
// order, and stops at the first error fn returns. Files that are not named
// like blobs are skipped. Blobs added or removed during the walk may or may
// not be seen.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	algs, err := os.ReadDir(s.blobsDir())
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.blobsDir(), alg.Name()))
		if err != nil {
			return fmt.Errorf("walk blobs: %w", err)
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if d.Validate() != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("walk blobs: %w", err)
			}
			if err := fn(d, fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriterOption tunes a Writer.
type WriterOption func(*Writer)

// WithExpected tells the writer which digest to expect, so that it hashes
// with that digest's algorithm while data is written rather than reading the
// file again at Commit.
func WithExpected(d digest.Digest) WriterOption {
	return func(w *Writer) { w.addHash(d.Algorithm()) }
}

// Writer streams one blob into the store. It is not safe for concurrent
// use. Every Writer must be closed; Close after Commit is a no-op.
type Writer struct {
	s         *Store
	f         *os.File
	hashes    map[digest.Algorithm]hash.Hash
	size      int64
	committed bool
	closed    bool
}

// Writer starts a new blob. Data written to it is hashed with sha256 (and
// with the algorithm of a WithExpected digest) and stored in a temporary
// file until Commit.
func (s *Store) Writer(ctx context.Context, opts ...WriterOption) (*Writer, error) {
	f, err := os.CreateTemp(s.ingestDir(), "ingest-")
	if err != nil {
		return nil, fmt.Errorf("start blob: %w", err)
	}
	w := &Writer{s: s, f: f, hashes: map[digest.Algorithm]hash.Hash{}}
	w.addHash(digest.SHA256)
	for _, o := range opts {
		o(w)
	}
	return w, nil
}

func newHash(alg digest.Algorithm) hash.Hash {
	switch alg {
	case digest.SHA256:
		return sha256.New()
	case digest.SHA384:
		return sha512.New384()
	case digest.SHA512:
		return sha512.New()
	}
	return nil
}

func (w *Writer) addHash(alg digest.Algorithm) {
	if _, ok := w.hashes[alg]; ok || w.size > 0 {
		return
	}
	if h := newHash(alg); h != nil {
		w.hashes[alg] = h
	}
}

// Write appends p to the blob.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("write blob: %w", os.ErrClosed)
	}
	n, err := w.f.Write(p)
	for _, h := range w.hashes {
		h.Write(p[:n])
	}
	w.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("write blob: %w", err)
	}
	return n, nil
}

// Size returns the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit verifies what was written and makes it the blob of its digest.
//
// expected "" accepts whatever was written and names it by its sha256
// digest; otherwise the content must have that digest (sha256, sha384 or
// sha512) and the blob is stored under it. expectedSize -1 means unknown. A
// mismatch gives an error wrapping errdefs.ErrInvalidArgument that names both
// digests (or sizes), and nothing becomes visible. Committing a blob the
// store already holds succeeds. The Writer is closed by Commit, whatever its
// result.
func (w *Writer) Commit(ctx context.Context, expected digest.Digest, expectedSize int64) (digest.Digest, int64, error) {
	if w.closed {
		return "", 0, fmt.Errorf("commit blob: writer closed: %w", errdefs.ErrFailedPrecondition)
	}
	d, err := w.verify(expected, expectedSize)
	if err != nil {
		w.Close()
		return "", 0, err
	}
	// Once the bytes are verified, finishing must not be cut short.
	ctx = context.WithoutCancel(ctx)
	if err := w.publish(d); err != nil {
		w.Close()
		return "", 0, err
	}
	w.committed = true
	w.closed = true
	log.From(ctx).Debug("blob committed", "digest", d, "size", w.size)
	return d, w.size, nil
}

func (w *Writer) verify(expected digest.Digest, expectedSize int64) (digest.Digest, error) {
	if expectedSize >= 0 && w.size != expectedSize {
		return "", fmt.Errorf("blob %s: size %d, expected %d: %w", expected, w.size, expectedSize, errdefs.ErrInvalidArgument)
	}
	if expected == "" {
		return digest.NewDigest(digest.SHA256, w.hashes[digest.SHA256]), nil
	}
	if err := expected.Validate(); err != nil {
		return "", fmt.Errorf("expected digest %q: %v: %w", expected, err, errdefs.ErrInvalidArgument)
	}
	alg := expected.Algorithm()
	h, ok := w.hashes[alg]
	if !ok {
		// The algorithm was not announced: hash the file again.
		h = newHash(alg)
		if h == nil {
			return "", fmt.Errorf("digest algorithm %s: %w", alg, errdefs.ErrNotImplemented)
		}
		if _, err := w.f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("commit blob: %w", err)
		}
		if _, err := io.Copy(h, w.f); err != nil {
			return "", fmt.Errorf("commit blob: %w", err)
		}
	}
	got := digest.NewDigest(alg, h)
	if got != expected {
		return "", fmt.Errorf("blob digest %s, expected %s: %w", got, expected, errdefs.ErrInvalidArgument)
	}
	return got, nil
}

func (w *Writer) publish(d digest.Digest) error {
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := w.f.Chmod(0o444); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	tmp := w.f.Name()
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	w.f = nil
	final := w.s.Path(d)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	// rename(2) replaces an existing blob atomically; its content is the
	// same, so readers of either file see the same bytes.
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("commit blob %s: %w", d, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Close aborts an uncommitted blob, removing its temporary file. It is a
// no-op after Commit or a previous Close.
func (w *Writer) Close() error {
	if w.closed && w.f == nil {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	name := w.f.Name()
	w.f.Close()
	w.f = nil
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("abort blob: %w", err)
	}
	return nil
}

// Ingest copies r into the store and commits it with the expected digest
// and size (see Writer.Commit). When expectedSize is known, reading stops
// one byte past it, so an oversized stream fails without being read whole.
func (s *Store) Ingest(ctx context.Context, r io.Reader, expected digest.Digest, expectedSize int64) (digest.Digest, int64, error) {
	var opts []WriterOption
	if expected != "" {
		if err := expected.Validate(); err != nil {
			return "", 0, fmt.Errorf("expected digest %q: %v: %w", expected, err, errdefs.ErrInvalidArgument)
		}
		opts = append(opts, WithExpected(expected))
	}
	w, err := s.Writer(ctx, opts...)
	if err != nil {
		return "", 0, err
	}
	defer w.Close()
	if expectedSize >= 0 {
		r = io.LimitReader(r, expectedSize+1)
	}
	if _, err := io.Copy(w, &ctxReader{ctx: ctx, r: r}); err != nil {
		return "", 0, fmt.Errorf("ingest %s: %w", expected, err)
	}
	return w.Commit(ctx, expected, expectedSize)
}

// WriteBlob stores b and returns its sha256 digest.
func (s *Store) WriteBlob(ctx context.Context, b []byte) (digest.Digest, error) {
	w, err := s.Writer(ctx)
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Write(b); err != nil {
		return "", err
	}
	d, _, err := w.Commit(ctx, "", int64(len(b)))
	return d, err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
