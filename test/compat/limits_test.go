//go:build compat

package compat

import (
	"strings"
	"testing"
)

// docs.docker.com "docker container stats": --no-stream prints one table
// with the limit set by -m; "docker container update" changes it live.
func TestStats_NoStreamAndUpdate(t *testing.T) {
	name := ctrName(t)
	ok(t, "run", "-d", "--name", name, "-m", "64m", "busybox", "sleep", "100")
	waitRunning(t, name)
	out := ok(t, "stats", "--no-stream", name)
	if !strings.HasPrefix(out, "CONTAINER ID   NAME ") || !strings.Contains(out, "/ 64MiB") {
		t.Fatalf("stats: %q", out)
	}
	ok(t, "update", "-m", "128m", "--memory-swap", "256m", name)
	if out := ok(t, "stats", "--no-stream", "--format", "{{.MemUsage}}", name); !strings.HasSuffix(strings.TrimSpace(out), "/ 128MiB") {
		t.Fatalf("stats after update: %q", out)
	}
	if got := inspect(t, "{{.HostConfig.Memory}}", name); got != "134217728" {
		t.Fatalf("HostConfig.Memory %s", got)
	}
}

// docs.docker.com "docker container pause": the container's processes are
// frozen and ps says so; unpause thaws them.
func TestPause_Unpause(t *testing.T) {
	name := ctrName(t)
	ok(t, "run", "-d", "--name", name, "busybox", "sleep", "100")
	waitRunning(t, name)
	ok(t, "pause", name)
	if st := inspect(t, "{{.State.Status}} {{.State.Paused}}", name); st != "paused true" {
		t.Fatalf("after pause: %s", st)
	}
	if out := ok(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.HasSuffix(strings.TrimSpace(out), "(Paused)") {
		t.Fatalf("ps: %q", out)
	}
	expect(t, docker(t, "exec", name, "true"), 1, "is paused")
	ok(t, "unpause", name)
	ok(t, "exec", name, "true")
}

// docs.docker.com "docker run --health-cmd": status turns healthy in ps.
func TestHealth_Cmd(t *testing.T) {
	name := ctrName(t)
	ok(t, "run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "100ms", "busybox", "sleep", "100")
	eventually(t, 10e9, func() (bool, string) {
		st := inspect(t, "{{.State.Health.Status}}", name)
		return st == "healthy", st
	})
	if out := ok(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.Contains(out, "(healthy)") {
		t.Fatalf("ps: %q", out)
	}
}
