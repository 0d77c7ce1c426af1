package container

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{"", []byte{16, 17}, false},
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"ctrl-a,x", []byte{1, 'x'}, false},
		{"ctrl-@,ctrl-[", []byte{0, 27}, false},
		{"ctrl-1", nil, true},
		{"ab", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseDetachKeys(tt.in)
			if (err != nil) != tt.wantErr || !bytes.Equal(got, tt.want) {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

func TestCopyStdin_DetachSequence(t *testing.T) {
	keys := []byte{16, 17}
	tests := []struct {
		name     string
		in       string
		want     string
		detached bool
	}{
		{"plain", "hello", "hello", false},
		{"detach", "ab\x10\x11cd", "ab", true},
		{"broken sequence passes through", "a\x10b", "a\x10b", false},
		{"prefix at end", "a\x10", "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := copyStdin(&out, strings.NewReader(tt.in), keys)
			if errors.Is(err, errDetached) != tt.detached || out.String() != tt.want {
				t.Fatalf("out %q err %v", out.String(), err)
			}
		})
	}
}

func TestCopyOutput_TTYStripsFrames(t *testing.T) {
	frames := []byte{1, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c', 2, 0, 0, 0, 0, 0, 0, 1, 'd'}
	var raw, muxed bytes.Buffer
	if err := copyOutput(&raw, bytes.NewReader(frames), true); err != nil {
		t.Fatal(err)
	}
	if err := copyOutput(&muxed, bytes.NewReader(frames), false); err != nil {
		t.Fatal(err)
	}
	if raw.String() != "abcd" || !bytes.Equal(muxed.Bytes(), frames) {
		t.Fatalf("raw %q muxed %v", raw.String(), muxed.Bytes())
	}
}
