//go:build integration

package integration

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

// The shim keeps containers running while berthd is killed with SIGKILL; a
// new berthd finds them, follows their logs, stops them, and records the
// exits that happened while it was down.
func TestLiveRestore_AfterKill9(t *testing.T) {
	d, err := testutil.StartDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	if err := d.ImportBusybox(t.Context(), "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	c, err := d.Client()
	if err != nil {
		t.Fatal(err)
	}
	long := create(t, c, "long", &container.Config{Cmd: []string{"sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"}}, nil)
	short := create(t, c, "short", &container.Config{Cmd: []string{"sh", "-c", "sleep 1; echo bye; exit 42"}}, nil)
	// An "always" container that exits while the daemon is down is
	// restarted by the new daemon.
	always := create(t, c, "always", &container.Config{Cmd: []string{"sh", "-c", "sleep 1; exit 3"}},
		&container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}})
	for _, id := range []string{long, short, always} {
		if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pid := inspect(t, c, long).State.Pid
	c.Close()

	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // "short" exits while the daemon is down
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	c, err = d.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	st := inspect(t, c, long).State
	if !st.Running || st.Pid != pid {
		t.Fatalf("long-running container after restart: %+v (pid before %d)", st, pid)
	}
	st = inspect(t, c, short).State
	if st.Running || st.ExitCode != 42 || st.Status != container.StateExited {
		t.Fatalf("exit during downtime not recorded: %+v", st)
	}
	for i := 0; i < 50 && inspect(t, c, always).RestartCount == 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if ins := inspect(t, c, always); ins.RestartCount < 1 {
		t.Fatalf("always container not restarted after the daemon came back: %+v", ins.State)
	}
	if out, _ := logs(t, c, short, client.ContainerLogsOptions{}); out != "bye\n" {
		t.Fatalf("logs of short: %q", out)
	}
	// logs -f on the restored container streams new lines.
	rc, err := c.ContainerLogs(t.Context(), long, client.ContainerLogsOptions{ShowStdout: true, Follow: true, Tail: "0"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = stdcopy.StdCopy(&buf, io.Discard, rc); close(done) }()
	// attach works on the restored container too.
	att, err := c.ContainerAttach(t.Context(), long, client.ContainerAttachOptions{Stream: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var abuf bytes.Buffer
	adone := make(chan struct{})
	go func() { _, _ = stdcopy.StdCopy(&abuf, io.Discard, att.Reader); close(adone) }()
	time.Sleep(700 * time.Millisecond)
	one := 1
	if _, err := c.ContainerStop(t.Context(), long, client.ContainerStopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	<-done
	<-adone
	rc.Close()
	att.Close()
	if !strings.Contains(buf.String(), "tick") || !strings.Contains(abuf.String(), "tick") {
		t.Fatalf("follow after restore: logs %q attach %q", buf.String(), abuf.String())
	}
	if st := inspect(t, c, long).State; st.Running || st.ExitCode != 137 {
		t.Fatalf("after stop: %+v", st)
	}
}
