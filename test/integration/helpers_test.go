//go:build integration

package integration

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// create makes a container from busybox running cmd, removed at test end.
func create(t *testing.T, c *client.Client, cname string, cfg *container.Config, hc *container.HostConfig) string {
	t.Helper()
	if cfg == nil {
		cfg = &container.Config{}
	}
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	res, err := c.ContainerCreate(t.Context(), client.ContainerCreateOptions{Name: cname, Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatalf("create %s: %v", cname, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = c.ContainerRemove(ctx, res.ID, client.ContainerRemoveOptions{Force: true})
	})
	return res.ID
}

// runToExit starts a container and waits for its exit, returning the code
// and its stdout and stderr from the logs.
func runToExit(t *testing.T, c *client.Client, id string) (int64, string, string) {
	t.Helper()
	ctx := t.Context()
	wait := c.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
	var code int64
	select {
	case r := <-wait.Result:
		code = r.StatusCode
	case err := <-wait.Error:
		t.Fatalf("wait: %v", err)
	}
	out, errOut := logs(t, c, id, client.ContainerLogsOptions{})
	return code, out, errOut
}

// logs returns a container's stdout and stderr.
func logs(t *testing.T, c *client.Client, id string, o client.ContainerLogsOptions) (string, string) {
	t.Helper()
	o.ShowStdout, o.ShowStderr = true, true
	rc, err := c.ContainerLogs(t.Context(), id, o)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer rc.Close()
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil && err != io.EOF {
		t.Fatalf("read logs: %v", err)
	}
	return stdout.String(), stderr.String()
}

func inspect(t *testing.T, c *client.Client, id string) container.InspectResponse {
	t.Helper()
	r, err := c.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return r.Container
}

// execOut runs cmd in a running container and returns its output and code.
func execOut(t *testing.T, c *client.Client, id string, o client.ExecCreateOptions) (string, int) {
	t.Helper()
	o.AttachStdout, o.AttachStderr = true, true
	ex, err := c.ExecCreate(t.Context(), id, o)
	if err != nil {
		t.Fatalf("exec create: %v", err)
	}
	att, err := c.ExecAttach(t.Context(), ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatalf("exec attach: %v", err)
	}
	var out bytes.Buffer
	_, _ = stdcopy.StdCopy(&out, &out, att.Reader)
	att.Close()
	var code int
	for i := 0; i < 100; i++ {
		in, err := c.ExecInspect(t.Context(), ex.ID, client.ExecInspectOptions{})
		if err != nil {
			t.Fatalf("exec inspect: %v", err)
		}
		if !in.Running {
			code = in.ExitCode
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return strings.TrimSpace(out.String()), code
}
