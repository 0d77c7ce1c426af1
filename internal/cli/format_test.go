package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestTemplateFuncs(t *testing.T) {
	tests := []struct {
		name, tmpl string
		data       any
		want       string
	}{
		{"json", `{{json .}}`, map[string]string{"a": "<b>"}, `{"a":"<b>"}`},
		{"join", `{{join . ","}}`, []string{"a", "b"}, "a,b"},
		{"split", `{{index (split . ":") 1}}`, "a:b", "b"},
		{"lower upper", `{{lower .}}{{upper .}}`, "Ab", "abAB"},
		{"title", `{{title .}}`, "hello big-world", "Hello Big-World"},
		{"pad", `[{{pad . 1 2}}]`, "x", "[ x  ]"},
		{"pad empty", `[{{pad . 1 2}}]`, "", "[]"},
		{"truncate", `{{truncate . 3}}`, "abcdef", "abc"},
		{"truncate short", `{{truncate . 10}}`, "abc", "abc"},
		{"println", `{{println .}}`, "x", "x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tm, err := parseTemplate(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := tm.Execute(&b, tc.data); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestEllipsis(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 20, "short"},
		{"exactly-twenty-chars", 20, "exactly-twenty-chars"},
		{"/bin/sh -c 'while true; do sleep 1; done'", 20, "/bin/sh -c 'while t…"},
		{"héllo wörld", 5, "héll…"},
		{"ab", 1, "…"},
		{"ab", 0, ""},
	}
	for _, tc := range tests {
		if got := ellipsis(tc.in, tc.max); got != tc.want {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestTruncateID(t *testing.T) {
	tests := map[string]string{
		"sha256:0123456789abcdef0123": "0123456789ab",
		"0123456789abcdef":            "0123456789ab",
		"abc":                         "abc",
		"<missing>":                   "<missing>",
	}
	for in, want := range tests {
		if got := truncateID(in); got != want {
			t.Errorf("truncateID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteList_PsTableMatchesDocker(t *testing.T) {
	now := time.Unix(1_700_000_120, 0)
	rows := []containerContext{{
		c: container.Summary{
			ID: "4c01db0b339c4bd2a8c1c4cc9b7c8f1e2e8b4a8c3d2c1b0a9f8e7d6c5b4a3210", Names: []string{"/web"},
			Image: "busybox", Command: "sleep 1000", Created: 1_700_000_000,
			Status: "Up 2 minutes", State: container.StateRunning,
		},
		trunc: true, now: now,
	}}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{defaultTable: defaultContainerTable, quietFormat: "{{.ID}}"}, rows); err != nil {
		t.Fatal(err)
	}
	want := "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS         PORTS     NAMES\n" +
		"4c01db0b339c   busybox   \"sleep 1000\"   2 minutes ago   Up 2 minutes             web\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteList_EmptyTablePrintsHeader(t *testing.T) {
	var b bytes.Buffer
	if err := writeList[containerContext](&b, listFormat{defaultTable: defaultContainerTable}, nil); err != nil {
		t.Fatal(err)
	}
	want := "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestWriteList_Formats(t *testing.T) {
	rows := []containerContext{{c: container.Summary{ID: "abcdef0123456789", Names: []string{"/a"},
		Labels: map[string]string{"com.example.role": "db", "b": "2"}}, trunc: true}}
	tests := []struct {
		name string
		f    listFormat
		want string
	}{
		{"quiet", listFormat{quiet: true, quietFormat: "{{.ID}}"}, "abcdef012345\n"},
		{"quiet loses to custom format", listFormat{quiet: true, quietFormat: "{{.ID}}", format: "{{.Names}}"}, "a\n"},
		{"plain template", listFormat{format: "{{.ID}} {{.Names}}"}, "abcdef012345 a\n"},
		{"table with label", listFormat{format: `table {{.Names}}\t{{.Label "com.example.role"}}`}, "NAMES     ROLE\na         db\n"},
		{"labels sorted", listFormat{format: "{{.Labels}}"}, "b=2,com.example.role=db\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeList(&b, tc.f, rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestWriteList_JSON(t *testing.T) {
	rows := []containerContext{{c: container.Summary{ID: "abcdef0123456789", Names: []string{"/a"}, Command: "sh"}, trunc: true}}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{format: "json"}, rows); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{`"ID":"abcdef012345"`, `"Names":"a"`, `"Command":"\"sh\""`} {
		if !strings.Contains(out, want) {
			t.Errorf("json output %s lacks %s", out, want)
		}
	}
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one line per row, got %q", out)
	}
}

func TestWriteList_BadTemplate(t *testing.T) {
	var b bytes.Buffer
	err := writeList[containerContext](&b, listFormat{format: "{{.ID"}, nil)
	if err == nil || !strings.Contains(err.Error(), "template parsing error") {
		t.Fatalf("want template parsing error, got %v", err)
	}
}
