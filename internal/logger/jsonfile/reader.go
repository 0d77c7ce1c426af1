package jsonfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"berth/internal/log"
	"berth/internal/logger/logmsg"
)

// ReadConfig selects what Read returns.
type ReadConfig struct {
	// Since and Until bound the entries' times (inclusive); zero is open.
	Since, Until time.Time
	// Tail is how many of the last lines to start from; negative means all.
	Tail int
	// Follow keeps reading lines as they are appended, across rotations.
	Follow bool
	// Done is closed when no more writes will come (the container stopped);
	// a follower then drains what is left and returns. Nil means follow until
	// ctx ends.
	Done <-chan struct{}
}

// maxFiles bounds how many rotated files Read looks at.
const maxFiles = 10000

// maxLine bounds one line; longer runs of bytes without a newline are
// skipped. The writer never produces them.
const maxLine = 16 << 20

// blockSize is the read size when scanning backwards for Tail.
const blockSize = 32 << 10

// Read calls fn for each entry of the json-file log at path and its rotated
// files, oldest first, as selected by cfg. Tail counts lines from the end
// across files, scanning backwards block by block. Entries before Since are
// skipped; the first entry after Until ends the read. Undecodable lines are
// skipped with a warning.
//
// With Follow, Read then waits for appended lines (woken by inotify on the
// log's directory), follows rotations, and returns nil once Done is closed and
// everything written has been delivered, or ctx.Err() when ctx ends first.
// Without Follow, Read returns nil at the end of the current file. A missing
// log is empty. An error from fn is returned as is.
func Read(ctx context.Context, path string, cfg ReadConfig, fn func(*logmsg.Message) error) error {
	r := &reader{ctx: ctx, path: path, cfg: cfg, fn: fn}
	var w *watcher
	if cfg.Follow {
		// Watch before the snapshot so no write after it goes unnoticed.
		var err error
		if w, err = newWatcher(filepath.Dir(path)); err != nil {
			return err
		}
		defer w.Close()
	}
	files, err := openFiles(path)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range files {
			if f != nil {
				_ = f.Close()
			}
		}
	}()
	stop, err := r.readSnapshot(files)
	if err != nil || stop || !cfg.Follow {
		return err
	}
	if len(files) > 0 {
		r.cur = r.lines.f
		files[len(files)-1] = nil // now owned by r
	}
	defer r.closeCur()
	return r.follow(w)
}

type reader struct {
	ctx  context.Context
	path string
	cfg  ReadConfig
	fn   func(*logmsg.Message) error

	cur     *os.File // file being followed; nil until path exists
	lines   lineReader
	corrupt int // lines skipped because they did not decode
}

// openFiles opens path and its rotated files and returns them oldest first,
// or none when there is no log. Names shift while the writer rotates, so the
// scan is only trusted when path is the same file before and after it (a
// rotation always replaces path); otherwise it is retried, and after a few
// tries taken as is, with files seen twice (rotated mid-scan) kept once.
func openFiles(path string) ([]*os.File, error) {
	for attempt := 0; ; attempt++ {
		before, _ := os.Stat(path)
		var files []*os.File
		var seen []os.FileInfo
		err := scanRotated(path, func(_ int, f *os.File, fi os.FileInfo) bool {
			for _, s := range seen {
				if os.SameFile(s, fi) {
					_ = f.Close()
					return true
				}
			}
			seen = append(seen, fi)
			files = append(files, f)
			return true
		}, true)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		after, _ := os.Stat(path)
		stable := before != nil && after != nil && os.SameFile(before, after)
		if stable || attempt == 10 || len(files) == 0 {
			slices.Reverse(files)
			return files, nil
		}
		closeAll(files)
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

// readSnapshot delivers the selected entries of files (oldest first) and
// leaves r.lines positioned in the last file. stop reports that Until was
// passed.
func (r *reader) readSnapshot(files []*os.File) (stop bool, err error) {
	first, offset := 0, int64(0)
	if r.cfg.Tail >= 0 {
		first, offset, err = tailStart(files, r.cfg.Tail)
		if err != nil {
			return false, err
		}
	}
	for i := first; i < len(files); i++ {
		f := files[i]
		if i > first {
			offset = 0
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return false, fmt.Errorf("json-file: seek: %w", err)
		}
		r.lines.reset(f)
		if stop, err := r.drain(); stop || err != nil {
			return stop, err
		}
	}
	return false, nil
}

// tailStart finds where the last n complete lines of files begin: the index
// of the file and the offset in it. Bytes after a file's last newline (a line
// still being written) do not count.
func tailStart(files []*os.File, n int) (int, int64, error) {
	if len(files) == 0 {
		return 0, 0, nil
	}
	need := n
	for i := len(files) - 1; i >= 0; i-- {
		fi, err := files[i].Stat()
		if err != nil {
			return 0, 0, fmt.Errorf("json-file: stat log: %w", err)
		}
		off, found, err := scanBack(files[i], fi.Size(), need)
		if err != nil {
			return 0, 0, err
		}
		if need == 0 || found == need {
			return i, off, nil
		}
		need -= found
	}
	return 0, 0, nil
}

// scanBack reads f backwards from size and returns the offset where its last
// n complete lines start and how many it found (fewer than n when the file
// is shorter; offset 0 then). For n == 0 it returns the end of the last
// complete line.
func scanBack(f *os.File, size int64, n int) (offset int64, found int, err error) {
	buf := make([]byte, blockSize)
	seenEnd := false // passed the newline that ends the last complete line
	for end := size; end > 0; {
		start := max(end-blockSize, 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, fmt.Errorf("json-file: read log: %w", err)
		}
		for j := len(b) - 1; j >= 0; j-- {
			if b[j] != '\n' {
				continue
			}
			pos := start + int64(j) + 1 // just after this newline
			if !seenEnd {
				seenEnd = true
				if n == 0 {
					return pos, 0, nil
				}
				continue
			}
			found++
			if found == n {
				return pos, found, nil
			}
		}
		end = start
	}
	if seenEnd {
		found++ // the first line of the file
	}
	if found > n {
		found = n
	}
	return 0, found, nil
}

// drain delivers every complete line from the current position to EOF.
func (r *reader) drain() (stop bool, err error) {
	for {
		if err := r.ctx.Err(); err != nil {
			return false, err
		}
		line, err := r.lines.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("json-file: read log: %w", err)
		}
		m, err := decodeLine(line)
		if err != nil {
			if r.corrupt == 0 {
				log.From(r.ctx).Warn("skipping corrupt json-file log line", "err", err)
			}
			r.corrupt++
			continue
		}
		if !r.cfg.Since.IsZero() && m.Timestamp.Before(r.cfg.Since) {
			continue
		}
		if !r.cfg.Until.IsZero() && m.Timestamp.After(r.cfg.Until) {
			return true, nil
		}
		if err := r.fn(m); err != nil {
			return false, err
		}
	}
}

func (r *reader) closeCur() {
	if r.cur != nil {
		_ = r.cur.Close()
		r.cur = nil
	}
}

// lineReader yields newline-terminated lines from a file that may still be
// growing: a trailing partial line is kept until its newline arrives.
type lineReader struct {
	f        *os.File
	br       *bufio.Reader
	pending  []byte // start of a line whose end has not been read yet
	skipping bool   // inside an over-long line: drop bytes up to its newline
}

func (lr *lineReader) reset(f *os.File) {
	lr.f = f
	if lr.br == nil {
		lr.br = bufio.NewReaderSize(f, 64<<10)
	} else {
		lr.br.Reset(f)
	}
	lr.pending = lr.pending[:0]
	lr.skipping = false
}

// next returns the next complete line (valid until the following call), or
// io.EOF when only a partial line, or nothing, is left for now.
func (lr *lineReader) next() ([]byte, error) {
	if lr.br == nil {
		return nil, io.EOF
	}
	for {
		chunk, err := lr.br.ReadSlice('\n')
		switch {
		case err == nil:
			if lr.skipping {
				lr.skipping = false
				continue
			}
			if len(lr.pending) == 0 {
				return chunk, nil
			}
			line := append(lr.pending, chunk...)
			lr.pending = line[:0]
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF):
			if !lr.skipping {
				lr.pending = append(lr.pending, chunk...)
				if len(lr.pending) > maxLine {
					lr.pending = lr.pending[:0]
					lr.skipping = true
				}
			}
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
	}
}

// partial reports whether bytes of an unfinished line are held.
func (lr *lineReader) partial() bool {
	return len(lr.pending) > 0 || lr.skipping
}
