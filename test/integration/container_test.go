//go:build integration

package integration

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

func TestRun_ExitCodeAndOutput(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}, nil)
	code, out, errOut := runToExit(t, c, id)
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Fatalf("got code %d stdout %q stderr %q", code, out, errOut)
	}
	st := inspect(t, c, id).State
	if st.Status != container.StateExited || st.ExitCode != 3 || st.Running {
		t.Fatalf("state %+v", st)
	}
}

// Docker: a command that is not found fails the start with 400 and leaves
// exit code 127; one that cannot be executed gives 126.
func TestRun_CommandNotFoundAndNotExecutable(t *testing.T) {
	c := apiClient(t)
	for _, tc := range []struct {
		cmd  string
		code int
		text string
	}{
		{"/no/such/binary", 127, "no such file or directory"},
		{"nosuchcommand", 127, "executable file not found"},
		{"/etc/passwd", 126, "permission denied"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			id := create(t, c, "", &container.Config{Cmd: []string{tc.cmd}}, nil)
			_, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{})
			if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("start error = %v, want 400 with %q", err, tc.text)
			}
			if st := inspect(t, c, id).State; st.ExitCode != tc.code {
				t.Fatalf("exit code %d, want %d (%+v)", st.ExitCode, tc.code, st)
			}
		})
	}
}

func TestStop_SignalThenKill(t *testing.T) {
	c := apiClient(t)
	// PID 1 ignores SIGTERM without a handler: stop must fall back to SIGKILL (137).
	id := create(t, c, name(t, "ignores"), &container.Config{Cmd: []string{"sleep", "100"}}, nil)
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	one := 1
	if _, err := c.ContainerStop(t.Context(), id, client.ContainerStopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, c, id).State; st.ExitCode != 137 || st.Status != container.StateExited {
		t.Fatalf("after stop: %+v", st)
	}
	// A trap makes SIGTERM end it cleanly.
	id2 := create(t, c, name(t, "traps"), &container.Config{Cmd: []string{"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"}}, nil)
	if _, err := c.ContainerStart(t.Context(), id2, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the shell install its trap
	if _, err := c.ContainerStop(t.Context(), id2, client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := inspect(t, c, id2).State; st.ExitCode != 7 {
		t.Fatalf("after stop with trap: %+v", st)
	}
	// Stopping a stopped container is 304 (no error from the client).
	if _, err := c.ContainerStop(t.Context(), id2, client.ContainerStopOptions{}); err != nil {
		t.Fatalf("second stop: %v", err)
	}
}

func TestKill_Signal(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "trap 'echo got-usr1; exit 5' USR1; while true; do sleep 0.1; done"}}, nil)
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	wait := c.ContainerWait(t.Context(), id, client.ContainerWaitOptions{})
	if _, err := c.ContainerKill(t.Context(), id, client.ContainerKillOptions{Signal: "USR1"}); err != nil {
		t.Fatal(err)
	}
	r := <-wait.Result
	if r.StatusCode != 5 {
		t.Fatalf("exit %d", r.StatusCode)
	}
	if out, _ := logs(t, c, id, client.ContainerLogsOptions{}); out != "got-usr1\n" {
		t.Fatalf("logs %q", out)
	}
	_, err := c.ContainerKill(t.Context(), id, client.ContainerKillOptions{})
	if !errdefs.IsConflict(err) {
		t.Fatalf("kill of stopped container: %v, want 409", err)
	}
}

func TestIsolation_Defaults(t *testing.T) {
	c := apiClient(t)
	script := `grep CapEff /proc/self/status; hostname; echo pid=$$; cat /proc/keys 2>&1 | wc -c; ls /dev | tr '\n' ' '; echo; ip link 2>/dev/null | grep -c '^[0-9]'`
	// With --network none the container has only its loopback interface.
	id := create(t, c, "", &container.Config{Hostname: "boxy", Cmd: []string{"sh", "-c", script}}, &container.HostConfig{NetworkMode: "none"})
	code, out, errOut := runToExit(t, c, id)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	for _, want := range []string{"CapEff:\t00000000a80425fb", "boxy", "pid=1", "\n0\n", "null", "zero", "pts", "shm", "\n1\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sda") || strings.Contains(out, "vda") {
		t.Errorf("host block devices visible: %s", out)
	}
	// --cap-drop ALL and --privileged.
	id = create(t, c, "", &container.Config{Cmd: []string{"grep", "CapEff", "/proc/self/status"}}, &container.HostConfig{CapDrop: []string{"ALL"}})
	if _, out, _ := runToExit(t, c, id); !strings.Contains(out, "0000000000000000") {
		t.Errorf("cap-drop ALL: %s", out)
	}
	id = create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "grep CapEff /proc/self/status; ls /dev | wc -l"}}, &container.HostConfig{Privileged: true})
	if _, out, _ := runToExit(t, c, id); strings.Contains(out, "a80425fb") {
		t.Errorf("privileged got default caps: %s", out)
	}
	id = create(t, c, "", &container.Config{Cmd: []string{"grep", "NoNewPrivs", "/proc/self/status"}}, &container.HostConfig{SecurityOpt: []string{"no-new-privileges"}})
	if _, out, _ := runToExit(t, c, id); !strings.Contains(out, "1") {
		t.Errorf("no-new-privileges: %s", out)
	}
}

func TestRun_Options(t *testing.T) {
	c := apiClient(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from-host"), 0o644); err != nil {
		t.Fatal(err)
	}
	stopTO := 1
	cfg := &container.Config{
		Cmd:        []string{"sh", "-c", "pwd; id -u; echo $FOO; cat /data/f; touch /data/x 2>&1 | grep -c Read-only; touch /etc/x 2>&1 | grep -c Read-only; touch /run/ok && echo tmpfs-ok; cat /proc/1/cmdline | tr '\\0' ' '"},
		WorkingDir: "/tmp", User: "1000", Env: []string{"FOO=bar"}, StopTimeout: &stopTO,
		Labels: map[string]string{"test": name(t, "")},
	}
	hc := &container.HostConfig{Binds: []string{host + ":/data:ro"}, ReadonlyRootfs: true, Tmpfs: map[string]string{"/run": "mode=1777"}, Init: boolPtr(true)}
	id := create(t, c, "", cfg, hc)
	code, out, errOut := runToExit(t, c, id)
	if code != 0 {
		t.Fatalf("exit %d: %s / %s", code, out, errOut)
	}
	want := "/tmp\n1000\nbar\nfrom-host1\n1\ntmpfs-ok\n/sbin/docker-init -- sh -c"
	if !strings.HasPrefix(out, want) {
		t.Fatalf("output:\n%s\nwant prefix:\n%s", out, want)
	}
	list, err := c.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "test="+name(t, ""))})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("label filter: %v %+v", err, list)
	}
}

func boolPtr(b bool) *bool { return &b }

func TestExec(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sleep", "100"}, Env: []string{"A=1"}}, nil)
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	out, code := execOut(t, c, id, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "echo $A $B; id -u; pwd; exit 4"}, Env: []string{"B=2"}, User: "1000", WorkingDir: "/tmp"})
	if out != "1 2\n1000\n/tmp" || code != 4 {
		t.Fatalf("exec: %q code %d", out, code)
	}
	// dockerd records 126 for any exec that fails to start, even when the
	// command is not found.
	out, code = execOut(t, c, id, client.ExecCreateOptions{Cmd: []string{"nosuchcmd"}})
	if code != 126 || !strings.Contains(out, "executable file not found") {
		t.Fatalf("exec of missing command: %q code %d", out, code)
	}
	one := 1
	if _, err := c.ContainerStop(t.Context(), id, client.ContainerStopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecCreate(t.Context(), id, client.ExecCreateOptions{Cmd: []string{"true"}}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in stopped container: %v", err)
	}
}

func TestRestartPolicy_OnFailureBackoff(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "exit 1"}},
		&container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 2}})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ev := c.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).Add("container", id).Add("event", "die")})
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	var dies []events.Message
	for len(dies) < 3 {
		select {
		case m := <-ev.Messages:
			dies = append(dies, m)
		case err := <-ev.Err:
			t.Fatalf("events: %v (after %d dies)", err, len(dies))
		}
	}
	// Back-off: 100ms then 200ms between the runs.
	if gap := time.Duration(dies[2].TimeNano - dies[1].TimeNano); gap < 200*time.Millisecond {
		t.Errorf("second back-off %v, want ≥ 200ms", gap)
	}
	ins := inspect(t, c, id)
	if ins.RestartCount != 2 || ins.State.Status != container.StateExited || ins.State.ExitCode != 1 {
		t.Fatalf("after retries: count %d state %+v", ins.RestartCount, ins.State)
	}
}

func TestAutoRemove(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"true"}}, &container.HostConfig{AutoRemove: true})
	wait := c.ContainerWait(t.Context(), id, client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 {
			t.Fatalf("exit %d", r.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	}
	if _, err := c.ContainerInspect(t.Context(), id, client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("container still there: %v", err)
	}
}

func TestContainer_BadInput(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	cname := name(t, "dup")
	id := create(t, c, cname, &container.Config{Cmd: []string{"sleep", "100"}}, nil)
	_, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: cname, Config: &container.Config{Image: "busybox", Cmd: []string{"true"}}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `The container name "/`+cname+`" is already in use`) {
		t.Errorf("duplicate name: %v", err)
	}
	_, err = c.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "bad name!", Config: &container.Config{Image: "busybox"}})
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed") {
		t.Errorf("invalid name: %v", err)
	}
	_, err = c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: "nosuchimage"}})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such image: nosuchimage") {
		t.Errorf("unknown image: %v", err)
	}
	if _, err := c.ContainerInspect(ctx, "nosuchcontainer", client.ContainerInspectOptions{}); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: nosuchcontainer") {
		t.Errorf("unknown container: %v", err)
	}
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "container is running") {
		t.Errorf("rm running: %v", err)
	}
	// Malformed JSON and bad versions straight over the socket.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (netConn, error) {
		return dialUnix(ctx, shared.Socket)
	}}}
	for _, tc := range []struct {
		method, path, body string
		status             int
		text               string
	}{
		{"POST", "/v1.50/containers/create", "{not json", 400, "invalid JSON"},
		{"GET", "/v1.99/version", "", 400, "client version 1.99 is too new. Maximum supported API version is 1.56"},
		{"GET", "/v1.20/version", "", 400, "client version 1.20 is too old. Minimum supported API version is 1.40"},
		{"GET", "/v1.50/containers/nope/json", "", 404, `{"message":"No such container: nope"}`},
	} {
		req, _ := http.NewRequestWithContext(ctx, tc.method, "http://berth"+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(b[:n]), tc.text) {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, b[:n])
		}
	}
}
