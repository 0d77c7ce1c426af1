package jsonfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"berth/internal/logger/logmsg"
)

// fileMode is the permission of log files, as dockerd creates them.
const fileMode = 0o640

// Writer appends messages to a json-file log and rotates it. It is safe for
// concurrent use.
type Writer struct {
	path string
	cfg  Config

	mu      sync.Mutex
	f       *os.File // nil after a failed rotation, until reopened
	size    int64
	rotated int // rotated files path.1 … path.rotated that exist
	buf     []byte
	closed  bool
}

// New opens (creating if needed) the log at path for appending with the
// rotation policy cfg. Rotated files are path.1 (newest) … path.(MaxFile-1)
// (oldest); any path.N beyond that, left by an earlier larger MaxFile, is
// removed.
func New(path string, cfg Config) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("json-file: open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("json-file: stat log: %w", err)
	}
	rotated := 0
	for rotated < cfg.MaxFile-1 {
		if _, err := os.Stat(rotatedName(path, rotated+1)); err != nil {
			break
		}
		rotated++
	}
	for i := max(cfg.MaxFile, 1); ; i++ {
		if err := os.Remove(rotatedName(path, i)); err != nil {
			break
		}
	}
	return &Writer{path: path, cfg: cfg, f: f, size: fi.Size(), rotated: rotated}, nil
}

// rotatedName returns path for i == 0 and path.i otherwise.
func rotatedName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// Log appends m as one line. A zero Timestamp is replaced by the current
// time. Before writing, the file is rotated when the line would take it past
// MaxSize; a single line larger than MaxSize gets a file of its own.
func (w *Writer) Log(m *logmsg.Message) error {
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("json-file %s: %w", w.path, os.ErrClosed)
	}
	w.buf = appendEntry(w.buf[:0], m, ts)
	if w.f == nil {
		if err := w.reopen(); err != nil {
			return err
		}
	}
	if w.cfg.MaxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.cfg.MaxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if cap(w.buf) > 1<<20 {
		w.buf = nil // do not pin one huge line's buffer
	}
	if err != nil {
		return fmt.Errorf("json-file: write log: %w", err)
	}
	return nil
}

// rotate shifts path → path.1 → … → path.(MaxFile-1), dropping the oldest,
// and starts a new path. With MaxFile 1 the old file is unlinked instead, so
// followers holding it see a new inode rather than a truncation.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		w.f = nil
		return fmt.Errorf("json-file: close log for rotation: %w", err)
	}
	w.f = nil
	var errs []error
	if w.cfg.MaxFile <= 1 {
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	} else {
		// rename replaces the destination, so the oldest file goes first.
		top := min(w.rotated+1, w.cfg.MaxFile-1)
		for i := top; i >= 1; i-- {
			err := os.Rename(rotatedName(w.path, i-1), rotatedName(w.path, i))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		w.rotated = top
	}
	if err := w.reopen(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("json-file: rotate log: %w", err)
	}
	return nil
}

// reopen opens path for appending, as a new file after a rotation.
func (w *Writer) reopen() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("json-file: open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("json-file: stat log: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// Close closes the file; later Log calls fail with os.ErrClosed. Closing
// twice is a no-op.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("json-file: close log: %w", err)
	}
	return nil
}
