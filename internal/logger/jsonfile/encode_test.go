package jsonfile

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"berth/internal/logger/logmsg"
)

func TestAppendEntry_Format(t *testing.T) {
	m := &logmsg.Message{Line: []byte("hello <world> & \"you\"\n"), Source: "stdout"}
	ts := time.Date(2024, 1, 1, 1, 0, 0, 5, time.FixedZone("X", 3600))
	got := string(appendEntry(nil, m, ts))
	want := `{"log":"hello \u003cworld\u003e \u0026 \"you\"\n","stream":"stdout","time":"2024-01-01T00:00:00.000000005Z"}` + "\n"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAppendJSONString_MatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", "tab\tnl\ncr\r", "\x00\x01\x1f\x7f", "\b\f", `quote" back\`, "<>&",
		"héllo wörld", "\u2028\u2029", "bad \xff\xfe utf8", "truncated \xe2\x82", "emoji 😀",
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, []byte(s)); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestDecodeLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    logmsg.Message
		wantErr bool
	}{
		{"docker line", `{"log":"hi\n","stream":"stderr","time":"2024-01-01T00:00:00.000000001Z"}` + "\n",
			logmsg.Message{Line: []byte("hi\n"), Source: "stderr", Timestamp: time.Unix(1704067200, 1)}, false},
		{"with attrs", `{"log":"x","stream":"stdout","attrs":{"a":"b"},"time":"2024-01-01T00:00:00Z"}`,
			logmsg.Message{Line: []byte("x"), Source: "stdout", Timestamp: time.Unix(1704067200, 0)}, false},
		{"empty log", `{"log":"","stream":"stdout","time":"2024-01-01T00:00:00Z"}`,
			logmsg.Message{Line: []byte{}, Source: "stdout", Timestamp: time.Unix(1704067200, 0)}, false},
		{"no log", `{"stream":"stdout"}`, logmsg.Message{}, true},
		{"not json", `hello`, logmsg.Message{}, true},
		{"bad time", `{"log":"x","time":"yesterday"}`, logmsg.Message{}, true},
		{"truncated", `{"log":"x","stre`, logmsg.Message{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeLine([]byte(tt.in))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Line, tt.want.Line) || got.Source != tt.want.Source || !got.Timestamp.Equal(tt.want.Timestamp) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzDecodeLine(f *testing.F) {
	for _, s := range []string{
		`{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}` + "\n",
		`{"log":"\u0000\ud800","stream":"","time":"0001-01-01T00:00:00Z"}`,
		`{"log":null}`, `{"log":1}`, `[]`, `null`, "", "\xff", `{"log":"x","time":"9999-12-31T23:59:59.999999999+14:00"}`,
		`{"log":"` + string(bytes.Repeat([]byte("a"), 4096)) + `"}`, `{"log":"x","log":"y"}`, `{"log":"x"` + "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// The string escaping must agree with encoding/json.
		want, _ := json.Marshal(string(in))
		if got := appendJSONString(nil, in); !bytes.Equal(got, want) {
			t.Fatalf("escape %q: got %s want %s", in, got, want)
		}
		m, err := decodeLine(in)
		if err != nil {
			return
		}
		// What decodes must survive our encoder unchanged.
		out := appendEntry(nil, m, m.Timestamp)
		if out[len(out)-1] != '\n' || bytes.Count(out, []byte("\n")) != 1 {
			t.Fatalf("entry is not one line: %q", out)
		}
		m2, err := decodeLine(out)
		if err != nil {
			t.Fatalf("re-decode %q: %v", out, err)
		}
		if !bytes.Equal(m.Line, m2.Line) || m.Source != m2.Source || !m.Timestamp.Equal(m2.Timestamp) {
			t.Fatalf("round trip changed %+v to %+v", m, m2)
		}
	})
}
