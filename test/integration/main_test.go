//go:build integration

// Package integration runs berthd for real: root, runc, overlayfs and the
// busybox image made from Debian's busybox-static. TestMain starts one
// daemon on its own socket, data root and exec root, shared by the API
// tests; every test names its objects after t.Name() and removes them.
package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

// shared is the daemon of the API tests.
var shared *testutil.Daemon

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer cleanupCLIDaemon()
	for _, p := range []testutil.Prereq{testutil.Root, testutil.Runc, testutil.Busybox, testutil.Overlay} {
		if !p.Check() {
			if testutil.InCI() {
				fmt.Fprintf(os.Stderr, "prerequisite missing in CI: %s\n", p.Name)
				return 1
			}
			fmt.Fprintf(os.Stderr, "skipping integration tests: missing %s\n", p.Name)
			return 0
		}
	}
	d, err := testutil.StartDaemon()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start berthd:", err)
		return 1
	}
	defer d.Cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.ImportBusybox(ctx, "busybox:latest"); err != nil {
		fmt.Fprintln(os.Stderr, "import busybox:", err)
		return 1
	}
	shared = d
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "---- berthd log (tail) ----")
		logs := strings.Split(d.Logs(), "\n")
		if len(logs) > 80 {
			logs = logs[len(logs)-80:]
		}
		fmt.Fprintln(os.Stderr, strings.Join(logs, "\n"))
	}
	return code
}

// apiClient returns a client of the shared daemon, closed at test end.
func apiClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := shared.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// name returns a container name unique to the test.
func name(t *testing.T, suffix string) string {
	r := strings.NewReplacer("/", "_", " ", "_", "#", "_")
	n := strings.ToLower(r.Replace(t.Name()))
	if suffix != "" {
		n += "_" + suffix
	}
	return n
}
