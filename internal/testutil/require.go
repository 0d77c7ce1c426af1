// Package testutil holds helpers shared by berth's tests: named prerequisites
// that skip locally and fail in CI, a logger that writes to t.Log, and a
// builder for the busybox base image made from Debian's busybox-static.
package testutil

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"berth/internal/log"
)

// Prereq is a named prerequisite of a test.
type Prereq struct {
	Name  string
	Check func() bool
}

// Root requires the test to run as uid 0.
var Root = Prereq{"root", func() bool { return os.Geteuid() == 0 }}

// Runc requires the runc binary on PATH.
var Runc = Prereq{"runc", func() bool { _, err := exec.LookPath("runc"); return err == nil }}

// Busybox requires Debian's busybox-static at /bin/busybox.
var Busybox = Prereq{"busybox-static", func() bool {
	_, err := os.Stat(BusyboxPath)
	return err == nil
}}

// DockerCLI requires the docker client binary on PATH.
var DockerCLI = Prereq{"docker CLI", func() bool { _, err := exec.LookPath("docker"); return err == nil }}

// Script requires script(1) from bsdutils, which gives a command a pseudo-terminal.
var Script = Prereq{"script (bsdutils)", func() bool { _, err := exec.LookPath("script"); return err == nil }}

// Overlay requires overlayfs in the running kernel.
var Overlay = Prereq{"overlayfs", func() bool {
	b, err := os.ReadFile("/proc/filesystems")
	return err == nil && strings.Contains(string(b), "overlay")
}}

// BusyboxPath is where Debian's busybox-static installs its binary.
const BusyboxPath = "/bin/busybox"

// InCI reports whether the tests run under CI (CI=true), where a missing
// prerequisite is a failure rather than a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require skips the test when a prerequisite is missing, or fails it in CI.
func Require(t testing.TB, prereqs ...Prereq) {
	t.Helper()
	for _, p := range prereqs {
		if p.Check() {
			continue
		}
		if InCI() {
			t.Fatalf("prerequisite missing in CI: %s", p.Name)
		}
		t.Skipf("prerequisite missing: %s", p.Name)
	}
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Context returns t.Context() carrying a debug logger that writes to t.Log.
func Context(t testing.TB) context.Context {
	l := slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return log.WithLogger(t.Context(), l)
}
