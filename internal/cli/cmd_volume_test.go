package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/volume"
)

func testVolumes() []volume.Volume {
	return []volume.Volume{
		{Name: "v10", Driver: "local", Scope: "local", Mountpoint: "/d/v10/_data"},
		{Name: "v9", Driver: "local", Scope: "local", Mountpoint: "/d/v9/_data", Labels: map[string]string{"b": "2", "a": "1"}},
		{Name: "anon", Driver: "local", Scope: "local", Labels: map[string]string{anonymousVolumeLabel: ""},
			UsageData: &volume.UsageData{RefCount: 2, Size: 2048}},
	}
}

func TestVolumeList_Formats(t *testing.T) {
	tests := []struct {
		name   string
		format string
		quiet  bool
		want   string
	}{
		{name: "table", want: "DRIVER    VOLUME NAME\nlocal     anon\nlocal     v9\nlocal     v10\n"},
		{name: "quiet", quiet: true, want: "anon\nv9\nv10\n"},
		{name: "template", format: "{{.Name}}|{{.Labels}}|{{.Links}}|{{.Size}}|{{.Group}}|{{.Status}}|{{.Label \"a\"}}",
			want: "anon|com.docker.volume.anonymous=|2|2.048kB|N/A|N/A|\nv9|a=1,b=2|N/A|N/A|N/A|N/A|1\nv10||N/A|N/A|N/A|N/A|\n"},
		{name: "custom table", format: "table {{.Name}}\t{{.Mountpoint}}",
			want: "VOLUME NAME   MOUNTPOINT\nanon          \nv9            /d/v9/_data\nv10           /d/v10/_data\n"},
		{name: "quiet loses to format", quiet: true, format: "{{.Driver}}", want: "local\nlocal\nlocal\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := writeList(&b, listFormat{format: tc.format, quiet: tc.quiet, defaultTable: defaultVolumeTable, quietFormat: volumeQuietFormat}, volumeRows(testVolumes()))
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
		})
	}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{format: "json"}, volumeRows(testVolumes()[1:2])); err != nil {
		t.Fatal(err)
	}
	want := `{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=1,b=2","Links":"N/A","Mountpoint":"/d/v9/_data","Name":"v9","Scope":"local","Size":"N/A","Status":"N/A"}` + "\n"
	if b.String() != want {
		t.Fatalf("json: %s", b.String())
	}
}

func TestMain_VolumeCommands(t *testing.T) {
	d := newFakeDaemon(t)
	var created volume.CreateRequest
	d.on("POST /volumes/create", func(w http.ResponseWriter, r *http.Request) {
		created = volume.CreateRequest{}
		_ = json.NewDecoder(r.Body).Decode(&created)
		name := created.Name
		if name == "" {
			name = "0123456789abcdef"
		}
		writeJSON(w, volume.Volume{Name: name, Driver: created.Driver})
	})
	d.on("GET /volumes/v9", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, testVolumes()[1]) })
	d.on("GET /volumes/nope", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "get nope: no such volume")
	})
	d.on("DELETE /volumes/v9", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d.on("DELETE /volumes/nope", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("force") == "1" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		apiError(w, http.StatusNotFound, "get nope: no such volume")
	})

	tests := []struct {
		name            string
		args            []string
		code            int
		stdout, stderr  string
		stdoutHasPrefix bool
	}{
		{name: "create named", args: []string{"volume", "create", "--label", "a=b", "-o", "type=tmpfs", "data"}, stdout: "data\n"},
		{name: "create anonymous", args: []string{"volume", "create"}, stdout: "0123456789abcdef\n"},
		{name: "create name twice", args: []string{"volume", "create", "--name", "a", "b"}, code: 1,
			stderr: "conflicting options: cannot specify a volume-name through both --name and as a positional arg\n"},
		{name: "create two args", args: []string{"volume", "create", "a", "b"}, code: 1,
			stderr: "berth: 'berth volume create' requires at most 1 argument\n\nUsage:  berth volume create [OPTIONS] [VOLUME]\n\nRun 'berth volume create --help' for more information\n"},
		{name: "create bad label", args: []string{"volume", "create", "--label", "=x"}, code: 125,
			stderr: "invalid argument \"=x\" for \"--label\" flag: invalid label '=x': empty name\n\nUsage:  berth volume create [OPTIONS] [VOLUME]\n\nRun 'berth volume create --help' for more information\n"},
		{name: "inspect format", args: []string{"volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "v9"}, stdout: "v9 local\n"},
		{name: "inspect missing", args: []string{"volume", "inspect", "nope"}, code: 1, stdout: "[]\n", stderr: "Error response from daemon: get nope: no such volume\n"},
		{name: "inspect json", args: []string{"volume", "inspect", "v9"}, stdout: "[\n    {\n", stdoutHasPrefix: true},
		{name: "rm", args: []string{"volume", "rm", "v9", "nope"}, code: 1, stdout: "v9\n", stderr: "Error response from daemon: get nope: no such volume\n"},
		{name: "rm force", args: []string{"volume", "remove", "-f", "nope"}, stdout: "nope\n"},
		{name: "rm no args", args: []string{"volume", "rm"}, code: 1,
			stderr: "berth: 'berth volume rm' requires at least 1 argument\n\nUsage:  berth volume rm [OPTIONS] VOLUME [VOLUME...]\n\nSee 'berth volume rm --help' for more information\n"},
		{name: "unknown sub", args: []string{"volume", "bogus"}, code: 1,
			stderr: "berth: unknown command: berth volume bogus\n\nUsage:  berth volume COMMAND\n\nRun 'berth volume --help' for more information\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := d.run("", tc.args...)
			okOut := out == tc.stdout || (tc.stdoutHasPrefix && strings.HasPrefix(out, tc.stdout))
			if code != tc.code || !okOut || errOut != tc.stderr {
				t.Fatalf("got exit %d stdout %q stderr %q\nwant exit %d stdout %q stderr %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	if created.Driver != "local" {
		t.Errorf("default driver %q", created.Driver)
	}
	d.run("", "volume", "create", "-d", "other", "--label", "a=b", "--label", "c", "-o", "type=tmpfs", "-o", "o=size=1m", "x")
	if created.Driver != "other" || created.Labels["a"] != "b" || created.Labels["c"] != "" || len(created.Labels) != 2 ||
		created.DriverOpts["type"] != "tmpfs" || created.DriverOpts["o"] != "size=1m" {
		t.Errorf("create request: %+v", created)
	}
}

func TestMain_VolumePrune(t *testing.T) {
	d := newFakeDaemon(t)
	var query string
	d.on("POST /volumes/prune", func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.Query().Get("filters")
		writeJSON(w, volume.PruneReport{VolumesDeleted: []string{"anon"}, SpaceReclaimed: 2048})
	})
	d.on("GET /volumes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, volume.ListResponse{Volumes: testVolumes()})
	})
	d.on("GET /containers/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, []container.Summary{{ID: "c1", Mounts: []container.MountPoint{{Name: "v10"}}}})
	})

	out, _, code := d.run("n\n", "volume", "prune")
	if code != 0 || out != volumePruneWarning+" [y/N] " || query != "" {
		t.Fatalf("declined: %d %q (query %q)", code, out, query)
	}
	out, _, code = d.run("y\n", "volume", "prune", "-a")
	want := volumePruneAllWarning + " [y/N] Deleted Volumes:\nanon\n\nTotal reclaimed space: 2.048kB\n"
	if code != 0 || out != want || !strings.Contains(query, `"all":{"true":true}`) {
		t.Fatalf("-a: %d %q (query %q)", code, out, query)
	}
	out, _, code = d.run("", "volume", "prune", "-f", "--filter", "label=a")
	if code != 0 || !strings.HasPrefix(out, "Deleted Volumes:\nanon\n") || !strings.Contains(query, `"label":{"a":true}`) {
		t.Fatalf("-f: %d %q (query %q)", code, out, query)
	}
	_, errOut, code := d.run("", "volume", "prune", "-a", "-f", "--filter", "all=1")
	if code != 1 || errOut != "conflicting options: cannot specify both --all and --filter all=1\n" {
		t.Fatalf("-a with all filter: %d %q", code, errOut)
	}

	query = "untouched"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--dry-run"}, "Would delete Volumes:\nanon\n\nTotal reclaimable space: 2.048kB\n"},
		{[]string{"--dry-run", "-a"}, "Would delete Volumes:\nv9\nanon\n\nTotal reclaimable space: 2.048kB\n"},
		{[]string{"--dry-run", "--filter", "all=true", "--filter", "label=a"}, "Would delete Volumes:\nv9\n\nTotal reclaimable space: 0B\n"},
		{[]string{"--dry-run", "--filter", "label!=a"}, "Would delete Volumes:\nanon\n\nTotal reclaimable space: 2.048kB\n"},
	}
	for _, tc := range tests {
		out, errOut, code := d.run("", append([]string{"volume", "prune"}, tc.args...)...)
		if code != 0 || out != tc.want {
			t.Errorf("%v: %d %q %q, want %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if _, errOut, code := d.run("", "volume", "prune", "--dry-run", "--filter", "until=1h"); code != 1 || errOut != "invalid filter 'until'\n" {
		t.Errorf("until: %d %q", code, errOut)
	}
	if query != "untouched" {
		t.Errorf("dry run pruned (query %q)", query)
	}
}

func TestMain_SystemPruneVolumesUntil(t *testing.T) {
	d := newFakeDaemon(t)
	_, errOut, code := d.run("", "system", "prune", "-f", "--volumes", "--filter", "until=1h")
	if code != 1 || errOut != "ERROR: The \"until\" filter is not supported with \"--volumes\"\n" {
		t.Fatalf("%d %q", code, errOut)
	}
	if len(d.calls) != 0 {
		t.Errorf("daemon was called: %v", d.calls)
	}
}

func TestMain_DfVolumesFromList(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("GET /system/df", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"ImagesUsage": map[string]any{}, "ContainersUsage": map[string]any{}, "VolumesUsage": map[string]any{}})
	})
	d.on("GET /volumes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, volume.ListResponse{Volumes: []volume.Volume{{Name: "data", Driver: "local"}, {Name: "idle", Driver: "local"}}})
	})
	d.on("GET /containers/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, []container.Summary{{ID: "c1", Mounts: []container.MountPoint{{Name: "data"}}}})
	})
	out, errOut, code := d.run("", "system", "df")
	if code != 0 || !strings.Contains(out, "\nLocal Volumes   2         1         0B        0B\n") {
		t.Fatalf("df: %d %q %q", code, out, errOut)
	}
	out, _, _ = d.run("", "system", "df", "-v")
	if !strings.Contains(out, "VOLUME NAME   LINKS     SIZE\ndata          1         N/A\nidle          0         N/A\n") {
		t.Fatalf("df -v: %q", out)
	}
}

func TestSummarizeVolumes(t *testing.T) {
	vols := []volume.Volume{
		{Name: "a"},
		{Name: "b", UsageData: &volume.UsageData{RefCount: 0, Size: 100}},
		{Name: "c", UsageData: &volume.UsageData{RefCount: 1, Size: 50}},
		{Name: "d", UsageData: &volume.UsageData{RefCount: 0, Size: 10}},
	}
	cs := []container.Summary{{Mounts: []container.MountPoint{{Name: "a"}, {Name: "d"}}}, {Mounts: []container.MountPoint{{Name: "a"}, {Source: "/host"}}}}
	du := summarizeVolumes(vols, cs)
	if du.TotalCount != 4 || du.ActiveCount != 3 || du.TotalSize != 160 || du.Reclaimable != 100 {
		t.Fatalf("summary: %+v", du)
	}
	if du.Items[0].UsageData.RefCount != 2 || du.Items[0].UsageData.Size != -1 {
		t.Fatalf("links of a: %+v", du.Items[0].UsageData)
	}
	if vols[0].UsageData != nil {
		t.Fatalf("input modified")
	}
}
