package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDaemonHost(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		flag string
		env  map[string]string
		want string
	}{
		{"", nil, DefaultHost},
		{"", map[string]string{"DOCKER_HOST": "unix:///d.sock"}, "unix:///d.sock"},
		{"", map[string]string{"DOCKER_HOST": "unix:///d.sock", "BERTH_HOST": "unix:///b.sock"}, "unix:///b.sock"},
		{"tcp://1.2.3.4:2376", map[string]string{"BERTH_HOST": "unix:///b.sock"}, "tcp://1.2.3.4:2376"},
	}
	for _, tc := range tests {
		if got := daemonHost(tc.flag, env(tc.env)); got != tc.want {
			t.Errorf("daemonHost(%q, %v) = %q, want %q", tc.flag, tc.env, got, tc.want)
		}
	}
}

// fakeDaemon is a minimal Engine API server on a unix socket: handlers are
// keyed by "METHOD /path" with the /vX.Y prefix removed.
type fakeDaemon struct {
	t        *testing.T
	sock     string
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	calls    []string
	prefix   *regexp.Regexp
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{t: t, sock: filepath.Join(t.TempDir(), "berth.sock"), handlers: map[string]http.HandlerFunc{},
		prefix: regexp.MustCompile(`^/v[0-9]+\.[0-9]+`)}
	d.on("GET /_ping", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Api-Version", "1.56")
		fmt.Fprint(w, "OK")
	})
	d.on("HEAD /_ping", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Api-Version", "1.56") })
	l, err := net.Listen("unix", d.sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(d.serve), ReadHeaderTimeout: time.Minute}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return d
}

func (d *fakeDaemon) on(route string, h http.HandlerFunc) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.handlers[route] = h
}

func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + d.prefix.ReplaceAllString(r.URL.Path, "")
	d.mu.Lock()
	h, ok := d.handlers[key]
	d.calls = append(d.calls, key)
	d.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "page not found: "+key)
		return
	}
	h(w, r)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// run runs the CLI against the fake daemon and returns stdout, stderr and
// the exit status.
func (d *fakeDaemon) run(stdin string, args ...string) (string, string, int) {
	d.t.Helper()
	var out, errb bytes.Buffer
	c := &CLI{in: strings.NewReader(stdin), out: &out, err: &errb, now: func() time.Time { return time.Unix(1_700_000_120, 0) },
		getenv: func(k string) string {
			if k == "BERTH_HOST" {
				return "unix://" + d.sock
			}
			return ""
		}}
	code := c.run(d.t.Context(), args)
	return out.String(), errb.String(), code
}

func TestMain_PsTable(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("all") != "1" {
			t.Errorf("ps -a did not ask for all: %s", r.URL.RawQuery)
		}
		writeJSON(w, []map[string]any{{"Id": "4c01db0b339c4bd2a8c1c4cc9b7c8f1e", "Names": []string{"/web"}, "Image": "busybox",
			"Command": "sleep 1000", "Created": 1_700_000_000, "Status": "Exited (0) 5 seconds ago", "State": "exited"}})
	})
	out, errOut, code := d.run("", "ps", "-a")
	want := "CONTAINER ID   IMAGE     COMMAND        CREATED         STATUS                     PORTS     NAMES\n" +
		"4c01db0b339c   busybox   \"sleep 1000\"   2 minutes ago   Exited (0) 5 seconds ago             web\n"
	if code != 0 || out != want {
		t.Fatalf("code %d stderr %q\ngot\n%s\nwant\n%s", code, errOut, out, want)
	}
	out, _, code = d.run("", "container", "ls", "-aq")
	if code != 0 || out != "4c01db0b339c\n" {
		t.Fatalf("ls -q: %d %q", code, out)
	}
}

func TestMain_RmErrors(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("DELETE /containers/nope", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "No such container: nope")
	})
	d.on("DELETE /containers/ok", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	out, errOut, code := d.run("", "rm", "ok", "nope")
	if code != 1 || out != "ok\n" || errOut != "Error response from daemon: No such container: nope\n" {
		t.Fatalf("rm: code %d out %q err %q", code, out, errOut)
	}
	out, errOut, code = d.run("", "rm", "-f", "nope")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("rm -f: code %d out %q err %q", code, out, errOut)
	}
}

func TestMain_StartFailureMessage(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("POST /containers/nope/start", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "No such container: nope")
	})
	_, errOut, code := d.run("", "start", "nope")
	want := "Error response from daemon: No such container: nope\nError: failed to start containers: nope\n"
	if code != 1 || errOut != want {
		t.Fatalf("code %d err %q", code, errOut)
	}
}

func TestMain_Inspect(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("GET /containers/c1/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"Id": "c1full", "Name": "/c1", "State": map[string]any{"Status": "running", "Running": true}})
	})
	d.on("GET /containers/nope/json", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "No such container: nope")
	})
	d.on("GET /images/nope/json", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "No such image: nope")
	})
	out, errOut, code := d.run("", "inspect", "nope")
	if code != 1 || out != "[]\n" || errOut != "Error: No such object: nope\n" {
		t.Fatalf("inspect nope: %d %q %q", code, out, errOut)
	}
	_, errOut, _ = d.run("", "container", "inspect", "nope")
	if errOut != "Error: No such container: nope\n" {
		t.Fatalf("container inspect nope: %q", errOut)
	}
	out, _, code = d.run("", "inspect", "c1")
	if code != 0 || !strings.HasPrefix(out, "[\n    {\n        \"Id\": \"c1full\",") || !strings.HasSuffix(out, "}\n]\n") {
		t.Fatalf("inspect c1: %d %q", code, out)
	}
	out, _, code = d.run("", "inspect", "-f", "{{.Id}} {{.State.Status}} {{.Name}}", "c1")
	if code != 0 || out != "c1full running /c1\n" {
		t.Fatalf("inspect -f: %d %q", code, out)
	}
	out, _, _ = d.run("", "container", "inspect", "--format", "{{.ID}}", "c1")
	if out != "c1full\n" {
		t.Fatalf("typed template: %q", out)
	}
}

func TestMain_RunMissingImage(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("POST /containers/create", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "No such image: busybox:latest")
	})
	d.on("POST /images/create", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotImplemented, "pull access is not available")
	})
	_, errOut, code := d.run("", "run", "busybox")
	want := "Unable to find image 'busybox:latest' locally\n" +
		"berth: Error response from daemon: pull access is not available\n\nRun 'berth run --help' for more information\n"
	if code != 125 || errOut != want {
		t.Fatalf("code %d err %q", code, errOut)
	}
	_, errOut, _ = d.run("", "run", "--pull=never", "busybox")
	if strings.Contains(errOut, "Unable to find image") {
		t.Fatalf("--pull=never printed the pull hint: %q", errOut)
	}
}

func TestMain_RunStartFailsNotFound(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("POST /containers/create", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"Id": "abc123", "Warnings": []string{"careful"}})
	})
	d.on("POST /containers/abc123/start", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusBadRequest, `failed to create task: exec: "nope": executable file not found in $PATH`)
	})
	_, errOut, code := d.run("", "run", "-d", "busybox", "nope")
	if code != 127 || !strings.HasPrefix(errOut, "WARNING: careful\nberth: Error response from daemon: failed to create task") {
		t.Fatalf("code %d err %q", code, errOut)
	}
}

func TestMain_RunDetached(t *testing.T) {
	d := newFakeDaemon(t)
	var body map[string]any
	d.on("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("name") != "web" {
			t.Errorf("name query = %q", r.URL.Query().Get("name"))
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"Id": "abc123"})
	})
	d.on("POST /containers/abc123/start", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	out, errOut, code := d.run("", "run", "-d", "--name", "web", "-p", "8080:80", "busybox", "sleep", "1")
	if code != 0 || out != "abc123\n" {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
	if body["Image"] != "busybox" || fmt.Sprint(body["Cmd"]) != "[sleep 1]" {
		t.Errorf("create body: %v", body)
	}
	hc, _ := body["HostConfig"].(map[string]any)
	if fmt.Sprint(hc["PortBindings"]) != "map[80/tcp:[map[HostIp: HostPort:8080]]]" {
		t.Errorf("PortBindings = %v", hc["PortBindings"])
	}
}

// frame encodes one stdcopy frame.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8, 8+len(payload))
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func TestMain_RunAttachedExitStatus(t *testing.T) {
	d := newFakeDaemon(t)
	started := make(chan struct{})
	var waitCond string
	d.on("POST /containers/create", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		writeJSON(w, map[string]any{"Id": "abc123"})
	})
	d.on("POST /containers/abc123/attach", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprint(conn, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
		select {
		case <-started:
		case <-r.Context().Done():
			return
		}
		_, _ = conn.Write(frame(1, "hello\n"))
		_, _ = conn.Write(frame(2, "oops\n"))
	})
	d.on("POST /containers/abc123/wait", func(w http.ResponseWriter, r *http.Request) {
		waitCond = r.URL.Query().Get("condition")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-started:
		case <-r.Context().Done():
			return
		}
		writeJSON(w, map[string]any{"StatusCode": 3})
	})
	d.on("POST /containers/abc123/start", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		w.WriteHeader(http.StatusNoContent)
	})
	out, errOut, code := d.run("", "run", "--rm", "busybox", "sh", "-c", "exit 3")
	if code != 3 || out != "hello\n" || errOut != "oops\n" {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
	if waitCond != "removed" {
		t.Errorf("wait condition with --rm = %q, want removed", waitCond)
	}
}

func TestMain_ImagesAndVersion(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("GET /images/json", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Query().Get("filters"), "busybox") {
			t.Errorf("images REPO did not filter by reference: %s", r.URL.RawQuery)
		}
		writeJSON(w, []map[string]any{{"Id": "sha256:4c01db0b339c4bd2a8c1c4cc9b7c8f1e", "RepoTags": []string{"busybox:latest"},
			"Created": 1_700_000_000, "Size": 4_261_000, "Containers": -1, "SharedSize": -1}})
	})
	d.on("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"Version": "0.1.0", "ApiVersion": "1.56", "MinAPIVersion": "1.40", "Os": "linux", "Arch": "amd64",
			"Components": []map[string]any{{"Name": "Engine", "Version": "0.1.0", "Details": map[string]string{"ApiVersion": "1.56", "MinAPIVersion": "1.40", "Os": "linux", "Arch": "amd64"}}}})
	})
	out, _, code := d.run("", "images", "busybox")
	want := "REPOSITORY   TAG       IMAGE ID       CREATED         SIZE\nbusybox      latest    4c01db0b339c   2 minutes ago   4.26MB\n"
	if code != 0 || out != want {
		t.Fatalf("images: %d\n%s", code, out)
	}
	out, errOut, code := d.run("", "version")
	if code != 0 || !strings.Contains(out, "Server:\n Engine:\n  Version:          0.1.0\n  API version:      1.56 (minimum version 1.40)\n") {
		t.Fatalf("version: %d %q %q", code, out, errOut)
	}
	out, _, _ = d.run("", "version", "--format", "{{.Server.Version}}")
	if out != "0.1.0\n" {
		t.Fatalf("version --format: %q", out)
	}
}

func TestMain_UsageErrors(t *testing.T) {
	d := newFakeDaemon(t)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run"}, 1, "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n"},
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"},
		{[]string{"ps", "x"}, 1, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"},
		{[]string{"logs"}, 1, "berth: 'berth logs' requires 1 argument\n\nUsage:  berth logs [OPTIONS] CONTAINER\n\nRun 'berth logs --help' for more information\n"},
		{[]string{"container", "bogus"}, 1, "berth: unknown command: berth container bogus\n\nUsage:  berth container\n\nRun 'berth container --help' for more information\n"},
		{[]string{"run", "--restart=bad", "img"}, 125, "berth: invalid restart policy"},
		{[]string{"bogus"}, 1, "berth: unknown command: berth bogus\n\nRun 'berth --help' for more information\n"},
		{[]string{"ps", "--filter", "novalue"}, 1, "bad format of filter (expected name=value)\n"},
	}
	for _, tc := range tests {
		_, errOut, code := d.run("", tc.args...)
		if code != tc.code || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("%v: code %d err %q", tc.args, code, errOut)
		}
	}
}

func TestMain_PruneDryRunRemovesNothing(t *testing.T) {
	d := newFakeDaemon(t)
	d.on("GET /containers/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, []map[string]any{
			{"Id": "dead1", "State": "exited", "ImageID": "sha256:a", "Created": 1},
			{"Id": "live1", "State": "running", "ImageID": "sha256:b", "Created": 1},
		})
	})
	d.on("GET /images/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, []map[string]any{
			{"Id": "sha256:a", "RepoTags": []string{"a:1"}, "Size": 1000},
			{"Id": "sha256:b", "RepoTags": []string{"b:1"}, "Size": 1000},
			{"Id": "sha256:c", "Size": 500},
		})
	})
	out, errOut, code := d.run("", "container", "prune", "--dry-run")
	if code != 0 || out != "Would delete Containers:\ndead1\n\nTotal reclaimable space: 0B\n" {
		t.Fatalf("container prune: %d %q %q", code, out, errOut)
	}
	out, _, _ = d.run("", "image", "prune", "--dry-run")
	if out != "Would delete Images:\ndeleted: sha256:c\n\nTotal reclaimable space: 500B\n" {
		t.Fatalf("image prune: %q", out)
	}
	out, _, _ = d.run("", "system", "prune", "-a", "--dry-run")
	if !strings.Contains(out, "Would delete Images:\nuntagged: a:1\ndeleted: sha256:a\ndeleted: sha256:c\n") {
		t.Fatalf("system prune -a: %q", out)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.calls {
		if strings.HasPrefix(c, "POST") || strings.HasPrefix(c, "DELETE") {
			t.Errorf("dry run called %s", c)
		}
	}
}
