package testutil

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// VolumePlugin is a Docker volume plugin of our own, served on a unix
// socket for tests: it speaks /Plugin.Activate and /VolumeDriver.* and keeps
// its volumes as directories under a temporary root. Faults are injected per
// method with FailWith and Hang. It is safe for concurrent use.
type VolumePlugin struct {
	// Name is the plugin name (the socket is Name.sock).
	Name string
	// Socket is the socket path, DIR/NAME.sock.
	Socket string
	// Root holds one directory per volume, the mountpoints it hands out.
	Root string

	mu     sync.Mutex
	vols   map[string]*pluginVolume
	calls  []string
	fail   map[string]string
	hang   map[string]bool
	scope  string
	stop   chan struct{}
	server *http.Server
}

type pluginVolume struct {
	opts    map[string]string
	mounts  map[string]bool
	created time.Time
}

// StartVolumePlugin serves a plugin called name on dir/name.sock until the
// test ends. dir is the plugin directory the code under test searches.
func StartVolumePlugin(t testing.TB, dir, name string) *VolumePlugin {
	t.Helper()
	p := &VolumePlugin{
		Name:   name,
		Socket: filepath.Join(dir, name+".sock"),
		Root:   t.TempDir(),
		vols:   map[string]*pluginVolume{},
		fail:   map[string]string{},
		hang:   map[string]bool{},
		scope:  "local",
		stop:   make(chan struct{}),
	}
	ln, err := net.Listen("unix", p.Socket)
	if err != nil {
		t.Fatalf("volume plugin %s: %v", name, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{method}", p.serve)
	p.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.server.Serve(ln)
	}()
	t.Cleanup(func() {
		close(p.stop)
		_ = p.server.Close()
		<-done
		_ = os.Remove(p.Socket)
	})
	return p
}

// FailWith makes method (e.g. "VolumeDriver.Create") answer {"Err": msg}.
// An empty msg clears the fault.
func (p *VolumePlugin) FailWith(method, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if msg == "" {
		delete(p.fail, method)
		return
	}
	p.fail[method] = msg
}

// Hang makes method never answer: the handler waits until the caller gives
// up or the test ends.
func (p *VolumePlugin) Hang(method string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang[method] = true
}

// SetScope sets the scope the plugin reports in Capabilities.
func (p *VolumePlugin) SetScope(scope string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scope = scope
}

// Calls returns the methods called so far, in order.
func (p *VolumePlugin) Calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Volumes returns the names of the plugin's volumes, sorted.
func (p *VolumePlugin) Volumes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n := range p.vols {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Options returns the driver options volume name was created with.
func (p *VolumePlugin) Options(name string) map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.vols[name]; v != nil {
		return v.opts
	}
	return nil
}

// MountIDs returns the ids that currently mount volume name, sorted.
func (p *VolumePlugin) MountIDs(name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	if v := p.vols[name]; v != nil {
		for id := range v.mounts {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// AddVolume creates a volume behind the daemon's back, as another client
// of a shared plugin would.
func (p *VolumePlugin) AddVolume(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := os.MkdirAll(filepath.Join(p.Root, name), 0o755); err != nil {
		return err
	}
	p.vols[name] = &pluginVolume{mounts: map[string]bool{}, created: time.Now()}
	return nil
}

type pluginRequest struct {
	Name string
	ID   string
	Opts map[string]string
}

type pluginVolumeInfo struct {
	Name       string
	Mountpoint string `json:",omitempty"`
	CreatedAt  string `json:",omitempty"`
}

func (p *VolumePlugin) serve(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	var req pluginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"Err": "bad request: " + err.Error()})
		return
	}
	p.mu.Lock()
	p.calls = append(p.calls, method)
	msg, hang := p.fail[method], p.hang[method]
	p.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-p.stop:
		}
		return
	}
	if msg != "" {
		writeJSON(w, http.StatusOK, map[string]string{"Err": msg})
		return
	}
	resp, status := p.handle(method, req)
	writeJSON(w, status, resp)
}

func (p *VolumePlugin) handle(method string, req pluginRequest) (any, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	errResp := func(msg string) map[string]string { return map[string]string{"Err": msg} }
	if strings.ContainsAny(req.Name, "/\x00") || req.Name == ".." || req.Name == "." {
		return errResp("invalid volume name"), http.StatusOK
	}
	path := filepath.Join(p.Root, req.Name)
	v := p.vols[req.Name]
	switch method {
	case "Plugin.Activate":
		return map[string][]string{"Implements": {"VolumeDriver"}}, http.StatusOK
	case "VolumeDriver.Capabilities":
		return map[string]map[string]string{"Capabilities": {"Scope": p.scope}}, http.StatusOK
	case "VolumeDriver.Create":
		if req.Name == "" {
			return errResp("no name"), http.StatusOK
		}
		if v == nil {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return errResp(err.Error()), http.StatusOK
			}
			p.vols[req.Name] = &pluginVolume{opts: req.Opts, mounts: map[string]bool{}, created: time.Now()}
		}
		return errResp(""), http.StatusOK
	case "VolumeDriver.Remove":
		if v == nil {
			return errResp("no such volume"), http.StatusOK
		}
		if len(v.mounts) > 0 {
			return errResp("volume is mounted"), http.StatusOK
		}
		if err := os.RemoveAll(path); err != nil {
			return errResp(err.Error()), http.StatusOK
		}
		delete(p.vols, req.Name)
		return errResp(""), http.StatusOK
	case "VolumeDriver.Mount":
		if v == nil {
			return errResp("no such volume"), http.StatusOK
		}
		v.mounts[req.ID] = true
		return map[string]string{"Mountpoint": path}, http.StatusOK
	case "VolumeDriver.Unmount":
		if v == nil {
			return errResp("no such volume"), http.StatusOK
		}
		delete(v.mounts, req.ID)
		return errResp(""), http.StatusOK
	case "VolumeDriver.Path":
		if v == nil {
			return errResp("no such volume"), http.StatusOK
		}
		return map[string]string{"Mountpoint": path}, http.StatusOK
	case "VolumeDriver.Get":
		if v == nil {
			return errResp("no such volume"), http.StatusOK
		}
		info := p.info(req.Name, v)
		return map[string]any{"Volume": info}, http.StatusOK
	case "VolumeDriver.List":
		var list []pluginVolumeInfo
		for n, v := range p.vols {
			list = append(list, p.info(n, v))
		}
		slices.SortFunc(list, func(a, b pluginVolumeInfo) int { return strings.Compare(a.Name, b.Name) })
		return map[string]any{"Volumes": list}, http.StatusOK
	}
	return errResp("unknown method " + method), http.StatusNotFound
}

func (p *VolumePlugin) info(name string, v *pluginVolume) pluginVolumeInfo {
	info := pluginVolumeInfo{Name: name, CreatedAt: v.created.UTC().Format(time.RFC3339)}
	if len(v.mounts) > 0 {
		info.Mountpoint = filepath.Join(p.Root, name)
	}
	return info
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
