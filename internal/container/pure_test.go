package container

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"PATH=/bin", "A=1"}, []string{"A=2", "B=3"})
	want := []string{"PATH=/bin", "A=2", "B=3"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestMergeImageConfig_EntrypointResetsCmd(t *testing.T) {
	img := &container.Config{Entrypoint: []string{"/init"}, Cmd: []string{"serve"}, WorkingDir: "/app", User: "app", Env: []string{"X=1"}}
	tests := []struct {
		name     string
		req      *container.Config
		wantPath string
		wantArgs []string
		wantUser string
		wantWork string
	}{
		{"image defaults", &container.Config{}, "/init", []string{"serve"}, "app", "/app"},
		{"cmd overrides", &container.Config{Cmd: []string{"help"}}, "/init", []string{"help"}, "app", "/app"},
		{"entrypoint drops image cmd", &container.Config{Entrypoint: []string{"sh"}}, "sh", []string{}, "app", "/app"},
		{"user and workdir", &container.Config{User: "1000", WorkingDir: "/tmp"}, "/init", []string{"serve"}, "1000", "/tmp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mergeImageConfig(tt.req, img)
			p, a := commandOf(c)
			if p != tt.wantPath || !reflect.DeepEqual(a, tt.wantArgs) || c.User != tt.wantUser || c.WorkingDir != tt.wantWork {
				t.Fatalf("path %q args %v user %q workdir %q", p, a, c.User, c.WorkingDir)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	for name, ok := range map[string]bool{"web": true, "/web": true, "a.b_c-d": true, "a": false, "-x": false, "bad name": false, "x/y": false} {
		if validName.MatchString(name) != ok {
			t.Errorf("validName(%q) = %v", name, !ok)
		}
	}
	if n := generateName(func(int) int { return 0 }); !validName.MatchString(n) {
		t.Errorf("generated name %q is invalid", n)
	}
}

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		st   State
		want string
	}{
		{State{Status: container.StateRunning, StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{State{Status: container.StatePaused, StartedAt: now.Add(-2 * time.Minute)}, "Up 2 minutes (Paused)"},
		{State{Status: container.StateExited, ExitCode: 137, FinishedAt: now.Add(-time.Hour)}, "Exited (137) About an hour ago"},
		{State{Status: container.StateCreated}, "Created"},
		{State{Status: container.StateRestarting, ExitCode: 1, FinishedAt: now.Add(-time.Second)}, "Restarting (1) 1 second ago"},
	}
	for _, tt := range tests {
		if got := statusText(tt.st, now); got != tt.want {
			t.Errorf("statusText(%v) = %q, want %q", tt.st.Status, got, tt.want)
		}
	}
}

func TestParsePs(t *testing.T) {
	out := []byte("UID PID PPID C STIME TTY TIME CMD\nroot 10 1 0 12:00 ? 00:00:00 sleep 100\nroot 11 1 0 12:00 ? 00:00:00 other thing\n")
	r, err := parsePs(out, []int{10})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Processes) != 1 || strings.Join(r.Processes[0], "|") != "root|10|1|0|12:00|?|00:00:00|sleep 100" {
		t.Fatalf("got %v", r.Processes)
	}
	if _, err := parsePs([]byte("USER COMMAND\nroot x\n"), nil); err == nil {
		t.Fatal("ps output without PID accepted")
	}
}
