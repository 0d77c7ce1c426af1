package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPortLines(t *testing.T) {
	ports := network.PortMap{
		network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "8080"}, {HostIP: netip.MustParseAddr("::"), HostPort: "8080"}},
		network.MustParsePort("53/udp"): {{HostPort: "5353"}},
		network.MustParsePort("9/tcp"):  nil,
	}
	got, err := portLines(ports, "")
	if err != nil {
		t.Fatal(err)
	}
	want := "53/udp -> 0.0.0.0:5353|80/tcp -> 0.0.0.0:8080|80/tcp -> [::]:8080"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	got, err = portLines(ports, "80")
	if err != nil || strings.Join(got, "|") != "0.0.0.0:8080|[::]:8080" {
		t.Fatalf("port 80: %q, %v", got, err)
	}
	for _, p := range []string{"81", "9/tcp", "53/tcp", "x"} {
		if _, err := portLines(ports, p); err == nil {
			t.Errorf("portLines(%q) succeeded", p)
		}
	}
}

func TestWriteEvent(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6, time.Local)
	var b bytes.Buffer
	writeEvent(&b, events.Message{Type: events.ContainerEventType, Action: events.ActionStart, TimeNano: ts.UnixNano(),
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"name": "web", "image": "busybox"}}})
	want := ts.Format(rfc3339NanoFixed) + " container start abc (image=busybox, name=web)\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

func TestDiskUsageTable(t *testing.T) {
	du := client.DiskUsageResult{
		Images:     client.ImagesDiskUsage{TotalCount: 5, ActiveCount: 2, TotalSize: 16_430_000, Reclaimable: 11_630_000},
		Containers: client.ContainersDiskUsage{TotalCount: 2, TotalSize: 212, Reclaimable: 212},
	}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{defaultTable: defaultDiskUsageTable}, diskUsageRows(du)); err != nil {
		t.Fatal(err)
	}
	want := "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n" +
		"Images          5         2         16.43MB   11.63MB (70%)\n" +
		"Containers      2         0         212B      212B (100%)\n" +
		"Local Volumes   0         0         0B        0B\n" +
		"Build Cache     0         0         0B        0B\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteIndentedArray(t *testing.T) {
	var b bytes.Buffer
	if err := writeIndentedArray(&b, nil); err != nil || b.String() != "[]\n" {
		t.Fatalf("empty: %q %v", b.String(), err)
	}
	b.Reset()
	if err := writeIndentedArray(&b, [][]byte{[]byte(`{"a":1}`), []byte(`{"b":[2]}` + "\n")}); err != nil {
		t.Fatal(err)
	}
	want := "[\n    {\n        \"a\": 1\n    },\n    {\n        \"b\": [\n            2\n        ]\n    }\n]\n"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
}

func TestSystemPruneWarning(t *testing.T) {
	w := systemPruneWarning(true, true)
	for _, want := range []string{"all anonymous volumes", "all images without at least one container", "all build cache"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q", want)
		}
	}
	if w := systemPruneWarning(false, false); !strings.Contains(w, "all dangling images") || strings.Contains(w, "volumes") {
		t.Errorf("default warning: %q", w)
	}
}

func TestPsJSONPlatform(t *testing.T) {
	tests := []struct {
		name string
		desc *ocispec.Descriptor
		want string
	}{
		{"unknown", nil, `"Platform":null`},
		{"known", &ocispec.Descriptor{Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
			`"Platform":{"architecture":"arm64","os":"linux","variant":"v8"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			row := containerContext{c: container.Summary{ID: "abc", ImageManifestDescriptor: tc.desc}}
			if err := writeList(&b, listFormat{format: "json"}, []containerContext{row}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tc.want) {
				t.Fatalf("got %s, want it to contain %s", b.String(), tc.want)
			}
		})
	}
}

func TestInspectorTemplateFallback(t *testing.T) {
	type typed struct{ ID string }
	raw := []byte(`{"Id":"abc","Size":12345678901,"Config":{}}`)
	tests := []struct {
		format  string
		want    string
		wantErr string
	}{
		{"{{.ID}}", "abc\n", ""},
		{"{{.Id}} {{.Size}}", "abc 12345678901\n", ""},
		{"{{.Config.Cmd}}", "\n", `map has no entry for key "Cmd"`},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			ins, err := newInspector(&b, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			err = ins.add(typed{ID: "abc"}, raw)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if err := ins.flush(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}
