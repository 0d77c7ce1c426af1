package cli

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/moby/moby/client"
)

func TestEscapeProxy(t *testing.T) {
	keys := []byte{16, 17} // ctrl-p, ctrl-q
	tests := []struct {
		name     string
		in       []byte
		want     string
		detached bool
	}{
		{"plain", []byte("hello"), "hello", false},
		{"detach", []byte("ab\x10\x11cd"), "ab", true},
		{"partial then other", []byte("a\x10b"), "a\x10b", false},
		{"partial at eof", []byte("a\x10"), "a\x10", false},
		{"double prefix", []byte("\x10\x10\x11"), "\x10", true},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tc.in)
				if oneByte {
					r = iotest.OneByteReader(r)
				}
				got, err := io.ReadAll(newEscapeProxy(r, keys))
				if string(got) != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
				if errors.Is(err, errDetached) != tc.detached {
					t.Errorf("err = %v, detached want %v", err, tc.detached)
				}
			})
		}
	}
}

func TestEscapeProxy_NoKeys(t *testing.T) {
	r := strings.NewReader("x")
	if newEscapeProxy(r, nil) != io.Reader(r) {
		t.Fatal("proxy without keys should pass the reader through")
	}
}

func TestDisplayJSONMessages(t *testing.T) {
	in := `{"status":"sha256:abc"}
{"stream":"Loaded image: busybox:latest\n"}
{"status":"Loading layer","progressDetail":{"current":1,"total":2},"id":"123"}
{"id":"456","status":"Done"}
`
	var b bytes.Buffer
	if err := displayJSONMessages(strings.NewReader(in), &b); err != nil {
		t.Fatal(err)
	}
	want := "sha256:abc\nLoaded image: busybox:latest\n456: Done\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
	err := displayJSONMessages(strings.NewReader(`{"errorDetail":{"message":"bad tar"},"error":"bad tar"}`), &b)
	if err == nil || err.Error() != "bad tar" {
		t.Fatalf("err = %v", err)
	}
}

func TestPipeHijacked(t *testing.T) {
	t.Run("demultiplexes output", func(t *testing.T) {
		local, remote := net.Pipe()
		t.Cleanup(func() { _ = local.Close(); _ = remote.Close() })
		go func() {
			_, _ = remote.Write(frame(1, "out"))
			_, _ = remote.Write(frame(2, "err"))
			_ = remote.Close()
		}()
		var out, errb bytes.Buffer
		c := &CLI{in: strings.NewReader(""), out: &out, err: &errb}
		resp := client.NewHijackedResponse(local, "application/vnd.docker.multiplexed-stream")
		if err := c.pipeHijacked(t.Context(), &resp, streams{stdout: &out, stderr: &errb}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "out" || errb.String() != "err" {
			t.Fatalf("out %q err %q", out.String(), errb.String())
		}
	})
	t.Run("detach keys end a tty session", func(t *testing.T) {
		local, remote := net.Pipe()
		t.Cleanup(func() { _ = local.Close(); _ = remote.Close() })
		got := make(chan string, 1)
		go func() {
			buf := make([]byte, 2)
			_, _ = io.ReadFull(remote, buf)
			got <- string(buf)
		}()
		var out bytes.Buffer
		c := &CLI{in: strings.NewReader(""), out: &out, err: &out}
		resp := client.NewHijackedResponse(local, "application/vnd.docker.raw-stream")
		err := c.pipeHijacked(t.Context(), &resp, streams{tty: true, stdin: strings.NewReader("ab\x10\x11zz"), stdout: &out, detachKeys: []byte{16, 17}})
		if !errors.Is(err, errDetached) {
			t.Fatalf("err = %v, want errDetached", err)
		}
		if s := <-got; s != "ab" {
			t.Fatalf("container got %q", s)
		}
	})
}
