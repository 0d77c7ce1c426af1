package plugin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// listen serves h on dir/name.sock until the test ends.
func listen(t *testing.T, dir, name string, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(dir, name+".sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return sock
}

func TestLocate_Table(t *testing.T) {
	root := t.TempDir()
	run, etc := filepath.Join(root, "run"), filepath.Join(root, "etc")
	for _, d := range []string{run, etc, filepath.Join(run, "nested"), filepath.Join(etc, "jsonplug")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	flat := listen(t, run, "flat", func(http.ResponseWriter, *http.Request) {})
	nested := listen(t, filepath.Join(run, "nested"), "nested", func(http.ResponseWriter, *http.Request) {})
	files := map[string]string{
		filepath.Join(etc, "specplug.spec"):             "tcp://127.0.0.1:9999\n",
		filepath.Join(etc, "jsonplug", "jsonplug.json"): `{"Name":"jsonplug","Addr":"https://127.0.0.1:9443","TLSConfig":{"InsecureSkipVerify":true}}`,
		filepath.Join(etc, "noscheme.spec"):             "/run/x.sock",
		filepath.Join(etc, "badjson.json"):              `{"Addr":`,
		filepath.Join(etc, "ftp.spec"):                  "ftp://host/x",
		filepath.Join(etc, "flat.spec"):                 "tcp://127.0.0.1:1", // the socket in run wins
		filepath.Join(run, "notasocket.sock"):           "plain file",
		filepath.Join(etc, "huge.spec"):                 strings.Repeat("x", maxSpecSize+1),
		filepath.Join(etc, "emptyunix.spec"):            "unix://",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs := []string{run, etc}
	tests := []struct {
		name     string
		addr     string
		insecure bool
		errIs    error
		errHas   string
	}{
		{name: "flat", addr: "unix://" + flat},
		{name: "nested", addr: "unix://" + nested},
		{name: "specplug", addr: "tcp://127.0.0.1:9999"},
		{name: "jsonplug", addr: "https://127.0.0.1:9443", insecure: true},
		{name: "noscheme", errHas: "Unknown protocol"},
		{name: "badjson", errHas: "badjson.json"},
		{name: "ftp", errHas: "unsupported protocol"},
		{name: "huge", errHas: "larger than"},
		{name: "emptyunix", errHas: "no socket path"},
		{name: "notasocket", errIs: errdefs.ErrNotFound},
		{name: "missing", errIs: errdefs.ErrNotFound, errHas: `plugin "missing" not found`},
		{name: "../etc/specplug", errIs: errdefs.ErrInvalidArgument},
		{name: "", errIs: errdefs.ErrInvalidArgument},
		{name: "a/b", errIs: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep, err := Locate(tt.name, dirs)
			if tt.errIs != nil || tt.errHas != "" {
				if err == nil || (tt.errIs != nil && !errors.Is(err, tt.errIs)) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("got %+v, %v", ep, err)
				}
				return
			}
			if err != nil || ep.Addr != tt.addr || ep.Name != tt.name || (tt.insecure != (ep.TLS != nil && ep.TLS.InsecureSkipVerify)) {
				t.Fatalf("got %+v, %v; want %s", ep, err, tt.addr)
			}
		})
	}
}

func TestClient_Call(t *testing.T) {
	dir := t.TempDir()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	sock := listen(t, dir, "p", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != MediaType || r.Header.Get("Content-Type") != MediaType || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/Plugin.Activate":
			_, _ = w.Write([]byte(`{"Implements":["NetworkDriver"]}`))
		case "/VolumeDriver.Get":
			_, _ = w.Write([]byte(`{"Volume":{"Name":"a","Mountpoint":"/m","Status":{"k":1}}}`))
		case "/VolumeDriver.Path":
			_, _ = w.Write([]byte(`{"Err":"no such volume"}`))
		case "/VolumeDriver.Remove":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"Err":"busy"}`))
		case "/VolumeDriver.Unmount":
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`upstream <html>`))
		case "/VolumeDriver.List":
			_, _ = w.Write([]byte(`{"Volumes":[` + strings.Repeat(`{"Name":"x"},`, MaxResponse/12) + `{"Name":"y"}]}`))
		case "/VolumeDriver.Mount":
			_, _ = w.Write([]byte(`not json`))
		case "/VolumeDriver.Create":
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		default:
			http.NotFound(w, r)
		}
	})
	c, err := NewClient(Endpoint{Name: "p", Addr: "unix://" + sock}, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	d := &VolumeDriver{c: c}

	if _, err := NewVolumeDriver(ctx, c); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("activate of a network plugin: %v", err)
	}
	v, err := d.Get(ctx, "a")
	if err != nil || v.Mountpoint != "/m" || v.Status["k"] != float64(1) {
		t.Fatalf("get: %+v %v", v, err)
	}
	tests := []struct {
		name  string
		call  func() error
		want  string
		class func(error) bool
	}{
		{"err field", func() error { _, err := d.Path(ctx, "a"); return err }, "VolumeDriver.Path: no such volume", nil},
		{"status and err", func() error { return d.Remove(ctx, "a") }, "VolumeDriver.Remove: busy", nil},
		{"status without json", func() error { return d.Unmount(ctx, "a", "id") }, "VolumeDriver.Unmount: upstream <html>", nil},
		{"too large", func() error { _, err := d.List(ctx); return err }, "answered more than", nil},
		{"bad json", func() error { _, err := d.Mount(ctx, "a", "id"); return err }, "decode answer", nil},
		{"hang", func() error { return d.Create(ctx, "a", nil) }, `VolumeDriver.Create: plugin "p" did not answer within 200ms`, errdefs.IsUnavailable},
		{"not served", func() error { return c.Call(ctx, "VolumeDriver.Nope", nil, nil) }, "VolumeDriver.Nope: 404 page not found", errdefs.IsNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.class != nil && !tt.class(err)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	scope, err := d.Capabilities(ctx)
	if err != nil || scope != "local" {
		t.Fatalf("capabilities of a plugin without the method: %q %v", scope, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Create(cctx, "a", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

func TestClient_Unreachable(t *testing.T) {
	c, err := NewClient(Endpoint{Name: "dead", Addr: "unix://" + filepath.Join(t.TempDir(), "dead.sock")}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Activate(t.Context())
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), `Plugin.Activate: plugin "dead" at unix://`) {
		t.Fatalf("got %v", err)
	}
	if _, err := NewClient(Endpoint{Name: "x", Addr: "ftp://h"}, 0); err == nil {
		t.Fatal("ftp address accepted")
	}
}

func FuzzReadSpec(f *testing.F) {
	for _, s := range []string{
		"unix:///run/p.sock", "tcp://127.0.0.1:80", "https://h:1", "", "unix://", "://", "\x00",
		`{"Addr":"unix:///x"}`, `{"Addr":1}`, `{"TLSConfig":{"CAFile":"/etc/passwd"},"Addr":"https://h"}`, "http://[::1",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content string, isJSON bool) {
		file := filepath.Join(dir, "p.spec")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		ep, err := readSpec("p", file, isJSON)
		if err != nil {
			return
		}
		if checkAddr(ep.Addr) != nil {
			t.Fatalf("accepted bad address %q", ep.Addr)
		}
		if _, err := NewClient(ep, time.Second); err != nil && ep.TLS == nil {
			t.Fatalf("located endpoint %+v has no client: %v", ep, err)
		}
	})
}
