package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestDaemon_Validate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(d *Daemon)
		wantErr string
	}{
		{"defaults", func(*Daemon) {}, ""},
		{"tcp host", func(d *Daemon) { d.Hosts = []string{"tcp://0.0.0.0:2375"} }, "only unix:// sockets"},
		{"relative data root", func(d *Daemon) { d.DataRoot = "var/lib/berth" }, "data-root must be an absolute path"},
		{"bad log level", func(d *Daemon) { d.LogLevel = "loud" }, "unable to parse logging level: loud"},
		{"runtime without path", func(d *Daemon) { d.Runtimes = map[string]Runtime{"crun": {}} }, "needs a name and a path"},
		{"no host", func(d *Daemon) { d.Hosts = nil }, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DefaultConfig()
			tt.mod(&d)
			err := d.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSocketPath(t *testing.T) {
	for in, want := range map[string]string{"unix:///run/x.sock": "/run/x.sock", "unix://": DefaultSocket, "/tmp/s": "/tmp/s"} {
		if got, err := SocketPath(in); err != nil || got != want {
			t.Errorf("SocketPath(%q) = %q, %v", in, got, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(good, []byte(`{"data-root": "/srv/berth", "log-opts": {"max-size": "1m"}}`), 0o644)
	_ = os.WriteFile(bad, []byte(`{"data-rot": "/srv/berth"}`), 0o644)
	d, set, err := LoadFile(good, false)
	if err != nil || d.DataRoot != "/srv/berth" || d.LogOpts["max-size"] != "1m" || !set["data-root"] || set["exec-root"] {
		t.Fatalf("good file: %+v %v %v", d, set, err)
	}
	if _, _, err := LoadFile(bad, false); err == nil || !errdefs.IsInvalidArgument(err) {
		t.Fatalf("unknown key accepted: %v", err)
	}
	if _, _, err := LoadFile(filepath.Join(dir, "missing.json"), true); err != nil {
		t.Fatalf("optional missing file: %v", err)
	}
	if _, _, err := LoadFile(filepath.Join(dir, "missing.json"), false); err == nil {
		t.Fatal("required missing file accepted")
	}
}
