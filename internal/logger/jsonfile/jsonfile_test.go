package jsonfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"berth/internal/logger/jsonfile"
	"berth/internal/logger/logmsg"
	"berth/internal/testutil"
)

var base = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// stamp is the timestamp of line i in these tests: base + i seconds.
func stamp(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }

func line(i int) string { return fmt.Sprintf("line %04d\n", i) }

func newWriter(t *testing.T, cfg jsonfile.Config) (*jsonfile.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c-json.log")
	w, err := jsonfile.New(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w, path
}

func write(t *testing.T, w *jsonfile.Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		src := "stdout"
		if i%2 == 1 {
			src = "stderr"
		}
		if err := w.Log(&logmsg.Message{Line: []byte(line(i)), Source: src, Timestamp: stamp(i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func lines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, line(i))
	}
	return out
}

func read(t *testing.T, path string, cfg jsonfile.ReadConfig) []string {
	t.Helper()
	var got []string
	err := jsonfile.Read(testutil.Context(t), path, cfg, func(m *logmsg.Message) error {
		got = append(got, string(m.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// entrySize is the size of one test line on disk (all test lines have the
// same size).
func entrySize(t *testing.T) int64 {
	t.Helper()
	w, path := newWriter(t, jsonfile.Config{MaxSize: -1, MaxFile: 1})
	write(t, w, 0, 1)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestWriter_OnDiskFormat(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	msgs := []logmsg.Message{
		{Line: []byte("hello\n"), Source: "stdout", Timestamp: base},
		{Line: []byte("partial"), Source: "stderr", Timestamp: base.Add(time.Nanosecond)},
	}
	for i := range msgs {
		if err := w.Log(&msgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"log":"hello\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}` + "\n" +
		`{"log":"partial","stream":"stderr","time":"2024-01-01T00:00:00.000000001Z"}` + "\n"
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
}

func TestWriter_RotationBounds(t *testing.T) {
	size := entrySize(t)
	tests := []struct {
		name string
		cfg  jsonfile.Config
	}{
		{"three files", jsonfile.Config{MaxSize: 5*size + size/2, MaxFile: 3}},
		{"one file", jsonfile.Config{MaxSize: 4 * size, MaxFile: 1}},
		{"exact fit", jsonfile.Config{MaxSize: 3 * size, MaxFile: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, path := newWriter(t, tt.cfg)
			const n = 100
			write(t, w, 0, n)
			entries, err := os.ReadDir(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > tt.cfg.MaxFile {
				t.Fatalf("%d files, want at most %d", len(entries), tt.cfg.MaxFile)
			}
			for _, e := range entries {
				fi, _ := e.Info()
				if fi.Size() > tt.cfg.MaxSize {
					t.Errorf("%s is %d bytes, max %d", e.Name(), fi.Size(), tt.cfg.MaxSize)
				}
			}
			// What is kept is the newest lines, in order, without gaps.
			got := read(t, path, jsonfile.ReadConfig{Tail: -1})
			perFile := int(tt.cfg.MaxSize / size)
			if len(got) < perFile*(tt.cfg.MaxFile-1)+1 {
				t.Fatalf("kept only %d lines", len(got))
			}
			if want := lines(n-len(got), n); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestWriter_StaleRotatedFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	for _, name := range []string{"log.1", "log.2", "log.3"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	w, err := jsonfile.New(path, jsonfile.Config{MaxSize: 100, MaxFile: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	for _, name := range []string{"log.2", "log.3"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists", name)
		}
	}
}

func TestWriter_ConcurrentLogAndClose(t *testing.T) {
	size := entrySize(t)
	w, path := newWriter(t, jsonfile.Config{MaxSize: 7 * size, MaxFile: 3})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() { write(t, w, g*1000, g*1000+50) })
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Log(&logmsg.Message{Line: []byte("x")}); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Log after Close: %v", err)
	}
	for _, l := range read(t, path, jsonfile.ReadConfig{Tail: -1}) {
		if !strings.HasPrefix(l, "line ") {
			t.Fatalf("torn line %q", l)
		}
	}
}

func TestRead_TailAcrossFiles(t *testing.T) {
	size := entrySize(t)
	// 10 lines per file, 4 files, 35 lines written: files hold 5, 10, 10, 10.
	w, path := newWriter(t, jsonfile.Config{MaxSize: 10 * size, MaxFile: 4})
	write(t, w, 0, 35)
	tests := []struct {
		tail int
		want []string
	}{
		{-1, lines(0, 35)},
		{0, nil},
		{1, lines(34, 35)},
		{5, lines(30, 35)},
		{6, lines(29, 35)},
		{15, lines(20, 35)},
		{26, lines(9, 35)},
		{34, lines(1, 35)},
		{35, lines(0, 35)},
		{1000, lines(0, 35)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.tail), func(t *testing.T) {
			got := read(t, path, jsonfile.ReadConfig{Tail: tt.tail})
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Tail %d: got %v, want %v", tt.tail, got, tt.want)
			}
		})
	}
}

func TestRead_TailLongFile(t *testing.T) {
	// Many blocks in one file, to exercise the backwards block scan.
	w, path := newWriter(t, jsonfile.Config{MaxSize: -1, MaxFile: 1})
	write(t, w, 0, 5000)
	for _, n := range []int{1, 999, 1234, 4999, 5000} {
		if got := read(t, path, jsonfile.ReadConfig{Tail: n}); !reflect.DeepEqual(got, lines(5000-n, 5000)) {
			t.Fatalf("Tail %d: got %d lines starting %q", n, len(got), got[0])
		}
	}
}

func TestRead_PartialAndCorruptLines(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	write(t, w, 0, 2)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A corrupt line in the middle, and an unterminated one at the end (a
	// write in progress) which does not count.
	if _, err := f.WriteString("garbage\n"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	write(t, w, 2, 4)
	f, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if _, err := f.WriteString(`{"log":"half`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if got := read(t, path, jsonfile.ReadConfig{Tail: -1}); !reflect.DeepEqual(got, lines(0, 4)) {
		t.Fatalf("all: got %v", got)
	}
	if got := read(t, path, jsonfile.ReadConfig{Tail: 2}); !reflect.DeepEqual(got, lines(2, 4)) {
		t.Fatalf("tail 2: got %v", got)
	}
}

func TestRead_SinceUntil(t *testing.T) {
	size := entrySize(t)
	w, path := newWriter(t, jsonfile.Config{MaxSize: 4 * size, MaxFile: 5})
	write(t, w, 0, 20)
	tests := []struct {
		name string
		cfg  jsonfile.ReadConfig
		want []string
	}{
		{"since", jsonfile.ReadConfig{Tail: -1, Since: stamp(12)}, lines(12, 20)},
		{"until", jsonfile.ReadConfig{Tail: -1, Until: stamp(5)}, lines(0, 6)},
		{"both", jsonfile.ReadConfig{Tail: -1, Since: stamp(7), Until: stamp(9)}, lines(7, 10)},
		{"tail then since", jsonfile.ReadConfig{Tail: 5, Since: stamp(17)}, lines(17, 20)},
		{"since after all", jsonfile.ReadConfig{Tail: -1, Since: stamp(100)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := read(t, path, tt.cfg); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRead_MissingLogIsEmpty(t *testing.T) {
	if got := read(t, filepath.Join(t.TempDir(), "nope"), jsonfile.ReadConfig{Tail: -1}); got != nil {
		t.Fatalf("got %v", got)
	}
}

func TestRead_CallbackErrorReturned(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	write(t, w, 0, 3)
	stop := errors.New("stop")
	n := 0
	err := jsonfile.Read(t.Context(), path, jsonfile.ReadConfig{Tail: -1}, func(*logmsg.Message) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}

// follower runs a following Read and hands each line to the test.
type follower struct {
	lines chan string
	done  chan struct{} // closed when Read has returned err
	err   error
}

func follow(t *testing.T, ctx context.Context, path string, cfg jsonfile.ReadConfig) *follower {
	t.Helper()
	cfg.Follow = true
	f := &follower{lines: make(chan string), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.err = jsonfile.Read(ctx, path, cfg, func(m *logmsg.Message) error {
			select {
			case f.lines <- string(m.Line):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// t.Context is cancelled before cleanups run, which ends the Read.
	t.Cleanup(func() { <-f.done })
	return f
}

// wait returns Read's result once it has returned.
func (f *follower) wait() error {
	<-f.done
	return f.err
}

// expect receives want from the follower, in order. It blocks until they
// come: a follower that misses a line hangs the test, and the test binary's
// deadline reports it (no wall-clock timeouts in tests).
func (f *follower) expect(t *testing.T, want []string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-f.lines:
			if got != w {
				t.Fatalf("got %q, want %q", got, w)
			}
		case <-f.done:
			t.Fatalf("Read returned %v while waiting for %q", f.err, w)
		}
	}
}

func TestRead_FollowAcrossRotationsEndsOnDone(t *testing.T) {
	size := entrySize(t)
	for _, cfg := range []jsonfile.Config{
		{MaxSize: 3 * size, MaxFile: 4},
		{MaxSize: 3 * size, MaxFile: 1},
	} {
		t.Run(fmt.Sprintf("max-file %d", cfg.MaxFile), func(t *testing.T) {
			w, path := newWriter(t, cfg)
			write(t, w, 0, 2)
			done := make(chan struct{})
			f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: -1, Done: done})
			f.expect(t, lines(0, 2))
			// Lines written after the snapshot, one at a time, across rotations.
			for i := 2; i < 20; i++ {
				write(t, w, i, i+1)
				f.expect(t, lines(i, i+1))
			}
			// A burst, then Done: everything is drained before Read returns.
			write(t, w, 20, 23)
			close(done)
			f.expect(t, lines(20, 23))
			if err := f.wait(); err != nil {
				t.Fatalf("Read: %v", err)
			}
		})
	}
}

func TestRead_FollowBurstAcrossRotations(t *testing.T) {
	// The writer may rotate several times while the follower is busy; with
	// enough files kept nothing is lost.
	size := entrySize(t)
	w, path := newWriter(t, jsonfile.Config{MaxSize: 2 * size, MaxFile: 50})
	done := make(chan struct{})
	f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: -1, Done: done})
	write(t, w, 0, 1)
	f.expect(t, lines(0, 1))
	write(t, w, 1, 60)
	close(done)
	f.expect(t, lines(1, 60))
	if err := f.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRead_FollowWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	done := make(chan struct{})
	f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: -1, Done: done})
	w, err := jsonfile.New(path, jsonfile.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	write(t, w, 0, 3)
	f.expect(t, lines(0, 3))
	close(done)
	if err := f.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRead_FollowTailAndSince(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	write(t, w, 0, 10)
	done := make(chan struct{})
	// Tail 5 gives 5..9 and Since cuts that to 7..9; receiving them proves the
	// snapshot is taken, so later lines arrive live.
	f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: 5, Since: stamp(7), Done: done})
	f.expect(t, lines(7, 10))
	write(t, w, 10, 12)
	f.expect(t, lines(10, 12))
	close(done)
	if err := f.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRead_FollowUntilStops(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: -1, Until: stamp(2)})
	write(t, w, 0, 5)
	f.expect(t, lines(0, 3))
	if err := f.wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRead_FollowContextCancel(t *testing.T) {
	w, path := newWriter(t, jsonfile.DefaultConfig())
	write(t, w, 0, 1)
	ctx, cancel := context.WithCancel(t.Context())
	f := follow(t, ctx, path, jsonfile.ReadConfig{Tail: -1})
	f.expect(t, lines(0, 1))
	cancel()
	if err := f.wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read = %v, want context.Canceled", err)
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		want    jsonfile.Config
		wantErr string
	}{
		{"defaults", nil, jsonfile.Config{MaxSize: 20 * 1024 * 1024, MaxFile: 5}, ""},
		{"max-size alone", map[string]string{"max-size": "10m"}, jsonfile.Config{MaxSize: 10_000_000, MaxFile: 1}, ""},
		{"max-size and file", map[string]string{"max-size": "1k", "max-file": "3"}, jsonfile.Config{MaxSize: 1000, MaxFile: 3}, ""},
		{"max-file alone", map[string]string{"max-file": "2"}, jsonfile.Config{MaxSize: 20 * 1024 * 1024, MaxFile: 2}, ""},
		{"unlimited", map[string]string{"max-size": "-1"}, jsonfile.Config{MaxSize: -1, MaxFile: 1}, ""},
		{"compress", map[string]string{"max-size": "1m", "max-file": "2", "compress": "true"},
			jsonfile.Config{MaxSize: 1_000_000, MaxFile: 2, Compress: true}, ""},
		{"compress default size", map[string]string{"compress": "true"},
			jsonfile.Config{MaxSize: 20 * 1024 * 1024, MaxFile: 5, Compress: true}, ""},
		{"labels env tag", map[string]string{"labels": "a", "env": "B", "tag": "{{.Name}}", "labels-regex": ".", "env-regex": "."},
			jsonfile.Config{MaxSize: 20 * 1024 * 1024, MaxFile: 5}, ""},
		{"unknown", map[string]string{"max-sise": "1m"}, jsonfile.Config{}, "unknown log opt 'max-sise' for json-file log driver"},
		{"zero size", map[string]string{"max-size": "0"}, jsonfile.Config{}, "max-size must be a positive number"},
		{"bad size", map[string]string{"max-size": "lots"}, jsonfile.Config{}, "invalid size: 'lots'"},
		{"bad suffix", map[string]string{"max-size": "1x"}, jsonfile.Config{}, "invalid suffix: 'x'"},
		{"zero files", map[string]string{"max-file": "0"}, jsonfile.Config{}, "max-file cannot be less than 1"},
		{"bad files", map[string]string{"max-file": "two"}, jsonfile.Config{}, `strconv.Atoi: parsing "two": invalid syntax`},
		{"bad compress", map[string]string{"compress": "yes"}, jsonfile.Config{}, `strconv.ParseBool: parsing "yes": invalid syntax`},
		{"compress one file", map[string]string{"max-size": "1m", "compress": "true"}, jsonfile.Config{},
			"compress cannot be true when max-file is less than 2 or max-size is not set"},
		{"compress unlimited", map[string]string{"max-size": "-1", "max-file": "3", "compress": "1"}, jsonfile.Config{},
			"compress cannot be true when max-file is less than 2 or max-size is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jsonfile.ParseOptions(tt.opts)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want %q (invalid argument)", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	if err := jsonfile.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if c := jsonfile.DefaultConfig(); c.MaxSize != 20*1024*1024 || c.MaxFile != 5 {
		t.Fatalf("defaults %+v", c)
	}
	for _, c := range []jsonfile.Config{{MaxSize: 0, MaxFile: 1}, {MaxSize: 1, MaxFile: 0}} {
		if _, err := jsonfile.New(filepath.Join(t.TempDir(), "x"), c); !errdefs.IsInvalidArgument(err) {
			t.Errorf("New(%+v) = %v", c, err)
		}
	}
}

func TestRead_FollowConcurrentWriter(t *testing.T) {
	// The writer runs freely while the follower reads. With enough files kept
	// every line arrives once, in order; with few files a slow follower may
	// lose whole files but never reorders or repeats lines.
	size := entrySize(t)
	for _, cfg := range []jsonfile.Config{
		{MaxSize: 4 * size, MaxFile: 120},
		{MaxSize: 2 * size, MaxFile: 2},
		{MaxSize: 2 * size, MaxFile: 1},
	} {
		t.Run(fmt.Sprintf("max-file %d", cfg.MaxFile), func(t *testing.T) {
			const n = 400
			w, path := newWriter(t, cfg)
			done := make(chan struct{})
			f := follow(t, t.Context(), path, jsonfile.ReadConfig{Tail: -1, Done: done})
			go func() {
				defer close(done)
				for i := range n {
					if err := w.Log(&logmsg.Message{Line: []byte(line(i)), Source: "stdout", Timestamp: stamp(i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			var got []string
			for {
				select {
				case l := <-f.lines:
					got = append(got, l)
					continue
				case <-f.done:
				}
				break
			}
			if err := f.wait(); err != nil {
				t.Fatal(err)
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("line %q after %q", got[i], got[i-1])
				}
			}
			if len(got) == 0 || got[len(got)-1] != line(n-1) {
				t.Fatalf("last line missing; got %d lines", len(got))
			}
			if cfg.MaxFile == 120 && len(got) != n {
				var missing []int
				seen := map[string]bool{}
				for _, l := range got {
					seen[l] = true
				}
				for i := range n {
					if !seen[line(i)] {
						missing = append(missing, i)
					}
				}
				t.Fatalf("got %d lines, want %d; missing %v", len(got), n, missing)
			}
		})
	}
}
