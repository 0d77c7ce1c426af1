package archive_test

import (
	"bytes"
	"context"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"berth/internal/archive"
	"berth/internal/testutil"
)

type syscallStat = syscall.Stat_t

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithCancel(testutil.Context(t))
}

func TestDecompressStream(t *testing.T) {
	payload := bytes.Repeat([]byte("berth layer "), 1000)
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(payload)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(payload)
	zw.Close()
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"gzip", gz.Bytes(), payload},
		{"zstd", zs.Bytes(), payload},
		{"plain", payload, payload},
		{"empty", nil, nil},
		{"short", []byte{0x1f}, []byte{0x1f}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := archive.DecompressStream(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestDiff_Deterministic(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	src := mkTar(t, dir("b/"), reg("b/z", "z"), reg("b/a", "a"), hardlink("b/link", "b/a"), reg("a", "top"), symlink("c", "b/z"))
	one, two := t.TempDir(), t.TempDir()
	for _, root := range []string{one, two} {
		if _, err := archive.Apply(ctx, root, bytes.NewReader(src), archive.ApplyOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Different times on disk vanish under the clamp.
	if err := syscall.UtimesNano(two+"/b/z", []syscall.Timespec{{Sec: 2e9}, {Sec: 2e9}}); err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1e9, 0)
	var x, y bytes.Buffer
	if err := archive.Diff(ctx, &x, one, archive.WithSourceDateEpoch(epoch)); err != nil {
		t.Fatal(err)
	}
	if err := archive.Diff(ctx, &y, two, archive.WithSourceDateEpoch(epoch)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Error("the same tree gave different diffs")
	}
	got := tarEntries(t, x.Bytes())
	want := []string{"a 0", "b/ 5", "b/a 0", "b/link 1 b/a", "b/z 0", "c 2 b/z"}
	if len(got) != len(want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("entry %d = %q, want %q", i, got[i], want[i])
		}
	}
}
