package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/content"
	"berth/internal/log"
)

// spool is a growing, disk-backed buffer between a layer's download and its
// unpacker: one writer appends, readers follow it and block until more is
// written or the writer finishes. Its file is unlinked from the start.
type spool struct {
	f    *os.File
	mu   sync.Mutex
	cond *sync.Cond
	size int64
	done bool
	err  error
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "spool-")
	if err != nil {
		return nil, fmt.Errorf("layer spool: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("layer spool: %w", err)
	}
	s := &spool{f: f}
	s.cond = sync.NewCond(&s.mu)
	return s, nil
}

// Write appends p. Only one goroutine writes.
func (s *spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	off := s.size
	s.mu.Unlock()
	n, err := s.f.WriteAt(p, off)
	s.mu.Lock()
	s.size += int64(n)
	s.mu.Unlock()
	s.cond.Broadcast()
	if err != nil {
		return n, fmt.Errorf("layer spool: %w", err)
	}
	return n, nil
}

// finish ends the stream: readers get err, or io.EOF when err is nil.
func (s *spool) finish(err error) {
	s.mu.Lock()
	if !s.done {
		s.done, s.err = true, err
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

func (s *spool) close() {
	s.finish(errors.New("layer spool closed"))
	s.f.Close()
}

// spoolReader reads a spool from its start.
type spoolReader struct {
	s   *spool
	off int64
}

func (r *spoolReader) Read(p []byte) (int, error) {
	s := r.s
	s.mu.Lock()
	for r.off >= s.size && !s.done {
		s.cond.Wait()
	}
	avail, done, ferr := s.size-r.off, s.done, s.err
	s.mu.Unlock()
	if avail <= 0 && done {
		if ferr != nil {
			return 0, ferr
		}
		return 0, io.EOF
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, err := s.f.ReadAt(p, r.off)
	r.off += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

// errNoRetry marks a download error that another attempt cannot fix.
type errNoRetry struct{ err error }

func (e errNoRetry) Error() string { return e.err.Error() }
func (e errNoRetry) Unwrap() error { return e.err }

// download fetches the blob desc into the content store and, when sp is
// not nil, into sp as it arrives. A failed attempt is resumed from the bytes
// already written with a Range request, up to Config.Retries times. The blob
// is committed (digest and size verified) before download returns; sp is
// not finished here.
func (c *Client) download(ctx context.Context, s *session, desc ocispec.Descriptor, sp *spool, p *progress) error {
	id := shortID(desc.Digest)
	w, err := c.cs.Writer(ctx, content.WithExpected(desc.Digest))
	if err != nil {
		return err
	}
	defer w.Close()
	var out io.Writer = w
	if sp != nil {
		out = io.MultiWriter(w, sp)
	}
	m := &meter{p: p, id: id, status: "Downloading", total: desc.Size}
	for attempt := 0; ; attempt++ {
		err := c.fetchRange(ctx, s, desc, w.Size(), out, m)
		if err == nil {
			break
		}
		var nr errNoRetry
		if errors.As(err, &nr) || ctx.Err() != nil || attempt >= c.cfg.Retries {
			return err
		}
		wait := time.Duration(attempt+1) * 500 * time.Millisecond
		log.From(ctx).Warn("layer download interrupted, resuming", "digest", desc.Digest.String(), "offset", w.Size(), "err", err)
		p.status(id, fmt.Sprintf("Retrying in %d second", max(1, int(wait.Seconds()))))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	p.status(id, "Verifying Checksum")
	if _, _, err := w.Commit(ctx, desc.Digest, desc.Size); err != nil {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			return fmt.Errorf("filesystem layer verification failed for digest %s: %w", desc.Digest, errdefs.ErrInvalidArgument)
		}
		return err
	}
	p.status(id, "Download complete")
	return nil
}

// fetchRange GETs desc from offset off and copies it to out.
func (c *Client) fetchRange(ctx context.Context, s *session, desc ocispec.Descriptor, off int64, out io.Writer, m *meter) error {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, s.url("blobs", desc.Digest.String()), nil)
	if err != nil {
		return errNoRetry{err}
	}
	if off > 0 {
		// A closed range: some registries (ggcr's) refuse open-ended ones.
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(desc.Size-1, 10))
	}
	resp, err := s.do(req, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrUnauthenticated) || errors.Is(err, errdefs.ErrPermissionDenied) {
			return errNoRetry{err}
		}
		return err
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if off > 0 && resp.StatusCode == http.StatusOK {
		// The server ignored the range: skip what we have.
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			return fmt.Errorf("resume blob %s: %w", desc.Digest, err)
		}
	} else if resp.StatusCode == http.StatusPartialContent {
		start, ok := rangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			return errNoRetry{fmt.Errorf("blob %s: registry answered range %q for offset %d", desc.Digest, resp.Header.Get("Content-Range"), off)}
		}
	}
	// A silent server fails the attempt after Timeout.
	timeout := c.cfg.Timeout
	timer := time.AfterFunc(timeout, func() {
		cancel(fmt.Errorf("no data from %s for %s: %w", s.ep.host, timeout, errdefs.ErrUnavailable))
	})
	defer timer.Stop()
	buf := make([]byte, 256<<10)
	written := off
	for {
		n, rerr := body.Read(buf)
		timer.Reset(timeout)
		if n > 0 {
			if written+int64(n) > desc.Size {
				return errNoRetry{fmt.Errorf("blob %s is larger than its descriptor's %d bytes: %w", desc.Digest, desc.Size, errdefs.ErrInvalidArgument)}
			}
			if _, err := out.Write(buf[:n]); err != nil {
				return errNoRetry{err}
			}
			written += int64(n)
			m.update(written)
		}
		if errors.Is(rerr, io.EOF) {
			if written < desc.Size {
				return fmt.Errorf("blob %s: connection closed after %d of %d bytes: %w", desc.Digest, written, desc.Size, io.ErrUnexpectedEOF)
			}
			return nil
		}
		if rerr != nil {
			if cause := context.Cause(actx); cause != nil && ctx.Err() == nil {
				return cause
			}
			return fmt.Errorf("blob %s: %w", desc.Digest, rerr)
		}
	}
}

// rangeStart returns the first byte of a Content-Range "bytes a-b/n".
func rangeStart(h string) (int64, bool) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil && n >= 0
}
