package jsonfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// follow delivers lines appended after the snapshot until Done is closed
// (after a final drain), ctx ends, Until is passed or fn fails.
func (r *reader) follow(w *watcher) error {
	finishing := false
	for {
		for {
			if r.cur != nil {
				if stop, err := r.drain(); stop || err != nil {
					return err
				}
			}
			switched, stop, err := r.switchFile()
			if stop || err != nil {
				return err
			}
			if !switched {
				break
			}
		}
		if finishing {
			return nil
		}
		select {
		case <-w.C:
		case <-r.cfg.Done:
			finishing = true
		case <-w.dead:
			return w.err
		case <-r.ctx.Done():
			return r.ctx.Err()
		}
	}
}

// switchFile moves r to the file that follows r.cur when path is no longer
// r.cur (rotation), or opens path when nothing was open yet. It drains r.cur
// before leaving it: the writer finishes writing a file before renaming it,
// so once the rename is visible the old file is complete.
func (r *reader) switchFile() (switched, stop bool, err error) {
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("json-file: stat log: %w", err)
	}
	if r.cur == nil {
		f, err := os.Open(r.path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("json-file: open log: %w", err)
		}
		r.cur = f
		r.lines.reset(f)
		return true, false, nil
	}
	curFi, err := r.cur.Stat()
	if err != nil {
		return false, false, fmt.Errorf("json-file: stat log: %w", err)
	}
	if os.SameFile(fi, curFi) {
		return false, false, nil
	}
	if stop, err := r.drain(); stop || err != nil {
		return false, stop, err
	}
	next, err := openNext(r.path, curFi)
	if next == nil || err != nil {
		return false, false, err
	}
	if r.lines.partial() {
		log.From(r.ctx).Warn("dropping unterminated json-file log line at rotation")
	}
	r.closeCur()
	r.cur = next
	r.lines.reset(next)
	return true, false, nil
}

// openNext opens the file written after cur: path.(k-1) when cur is now
// path.k. When cur is gone (rotated past MaxFile, or unlinked with MaxFile 1)
// it opens the oldest file left, so a reader that fell far behind loses
// files but not its place. It returns nil when the next file does not exist
// yet or names kept moving while it looked; the next wake-up retries.
func openNext(path string, cur os.FileInfo) (*os.File, error) {
	missed := 0
	for range 8 {
		k, oldest, err := findRotated(path, cur)
		if err != nil || k == 0 {
			return nil, err
		}
		if k < 0 && missed < 2 {
			// A scan can pass the name a concurrent rotation is moving; only
			// believe cur is gone when repeated scans agree.
			missed++
			continue
		}
		name := rotatedName(path, oldest)
		if k > 0 {
			name = rotatedName(path, k-1)
		}
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			if k == 1 {
				return nil, nil // path not recreated yet; its IN_CREATE wakes us
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("json-file: open log: %w", err)
		}
		if k < 0 {
			return f, nil
		}
		// A rotation between findRotated and Open would have shifted the names
		// under us; cur still at k means name was the right file.
		if k2, _, err := findRotated(path, cur); err == nil && k2 == k {
			return f, nil
		}
		_ = f.Close()
	}
	return nil, nil
}

// findRotated returns i such that rotatedName(path, i) is cur, or -1 and the
// highest index that exists when no name is cur.
func findRotated(path string, cur os.FileInfo) (k, oldest int, err error) {
	k = -1
	err = scanRotated(path, func(i int, _ *os.File, fi os.FileInfo) bool {
		oldest = i
		if os.SameFile(fi, cur) {
			k = i
			return false
		}
		return true
	}, false)
	return k, oldest, err
}

// scanRotated visits path, path.1, path.2, … that exist, calling fn until it
// returns false. With open, each file is opened and fn owns it (otherwise
// the file is nil and only stat'ed). A single missing index is passed over,
// since a rotation in progress vacates one name at a time; two missing in a
// row end the scan.
func scanRotated(path string, fn func(i int, f *os.File, fi os.FileInfo) bool, open bool) error {
	misses := 0
	for i := 0; i < maxFiles && misses < 2; i++ {
		name := rotatedName(path, i)
		var f *os.File
		var fi os.FileInfo
		var err error
		if open {
			if f, err = os.Open(name); err == nil {
				if fi, err = f.Stat(); err != nil {
					_ = f.Close()
				}
			}
		} else {
			fi, err = os.Stat(name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			misses++
			continue
		}
		if err != nil {
			return fmt.Errorf("json-file: open log: %w", err)
		}
		misses = 0
		if !fn(i, f, fi) {
			return nil
		}
	}
	return nil
}

// watcher wakes a follower on any change in the log's directory: writes,
// creations, renames, removals. Event details are not parsed; the follower
// re-checks the files.
type watcher struct {
	// C receives a value (coalesced) after changes.
	C chan struct{}
	// dead is closed when the watch fails; err says why.
	dead chan struct{}
	err  error

	f    *os.File
	done chan struct{}
}

func newWatcher(dir string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("json-file: inotify init: %w", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		_ = unix.Close(fd)
		return nil, fmt.Errorf("json-file: inotify watch %s: %w", dir, err)
	}
	// A non-blocking descriptor gives a File served by the runtime poller, so
	// Close unblocks the reading goroutine.
	w := &watcher{
		C:    make(chan struct{}, 1),
		dead: make(chan struct{}),
		f:    os.NewFile(uintptr(fd), "inotify"),
		done: make(chan struct{}),
	}
	go w.run()
	return w, nil
}

func (w *watcher) run() {
	defer close(w.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		if _, err := w.f.Read(buf); err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.err = fmt.Errorf("json-file: inotify read: %w", err)
				close(w.dead)
			}
			return
		}
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
}

// Close stops the watch and waits for its goroutine.
func (w *watcher) Close() {
	_ = w.f.Close()
	<-w.done
}
