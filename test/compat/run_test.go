//go:build compat

package compat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth/internal/testutil"
)

// docker version reference: the Server section names the engine and its
// API version; docker info prints the "Server:" block.
func TestVersionInfo(t *testing.T) {
	out := ok(t, "version")
	for _, want := range []string{"Client:", "Server:", "API version:", "OS/Arch:"} {
		if !strings.Contains(out, want) {
			t.Fatalf("docker version lacks %q:\n%s", want, out)
		}
	}
	api := strings.TrimSpace(ok(t, "version", "--format", "{{.Server.APIVersion}}"))
	if !regexp.MustCompile(`^1\.[0-9]+$`).MatchString(api) {
		t.Fatalf("server API version %q", api)
	}
	info := ok(t, "info")
	for _, want := range []string{"Server:", "Server Version:", "Storage Driver:", "Logging Driver: json-file", "Cgroup Driver:"} {
		if !strings.Contains(info, want) {
			t.Fatalf("docker info lacks %q:\n%s", want, info)
		}
	}
	if got := ok(t, "info", "--format", "{{.OSType}}"); got != "linux\n" {
		t.Fatalf("info OSType %q", got)
	}
}

// docker run reference: the container's stdout is the command's stdout.
func TestRunEcho(t *testing.T) {
	r := docker(t, "run", "--rm", "--name", ctrName(t), "busybox", "echo", "hi")
	if r.Code != 0 || r.Stdout != "hi\n" || r.Stderr != "" {
		t.Fatalf("want hi: %s", r)
	}
	// -i passes stdin through and closes it at EOF; stderr stays stderr.
	r = dockerIn(t, strings.NewReader("one\ntwo\n"), "run", "--rm", "-i", "--name", ctrName(t, "stdin"), "busybox", "sh", "-c", "wc -l; echo done >&2")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "2" || r.Stderr != "done\n" {
		t.Fatalf("run -i: %s", r)
	}
}

// docker run reference, "Exit status": the container's own exit code is
// docker run's; 125 when the daemon refuses, 126 when the command cannot
// be invoked, 127 when it cannot be found.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"exit3", []string{"run", "--rm", "busybox", "sh", "-c", "exit 3"}, 3, nil},
		{"notfound", []string{"run", "--rm", "busybox", "nonexistent-cmd"}, 127,
			[]string{"docker: Error response from daemon: ", `exec: "nonexistent-cmd": executable file not found in $PATH`}},
		{"notexecutable", []string{"run", "--rm", "busybox", "/etc/passwd"}, 126,
			[]string{"docker: Error response from daemon: ", `exec: "/etc/passwd": permission denied`}},
		{"badrestart", []string{"run", "--restart", "bogus", "busybox", "true"}, 125,
			[]string{"docker: Error response from daemon: invalid restart policy: unknown policy 'bogus'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'\n"}},
		{"unknownimage", []string{"run", "--rm", "--pull", "never", "compat-no-such-image"}, 125,
			[]string{"docker: Error response from daemon: No such image: compat-no-such-image:latest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := docker(t, append([]string{tc.args[0], "--name", ctrName(t)}, tc.args[1:]...)...)
			expect(t, r, tc.code, tc.stderr...)
			if tc.code == 3 && r.Stderr != "" {
				t.Fatalf("a container's own exit prints nothing: %s", r)
			}
		})
	}
	// A refused create or start leaves no container behind (--rm).
	if out := ok(t, "ps", "-a", "-q", "--filter", "ancestor=busybox", "--filter", "status=created"); out != "" {
		t.Fatalf("refused runs left containers: %q", out)
	}
}

// docker run reference, "Exit status": a container killed by SIGKILL exits
// 128+9 = 137, and docker run (attached) exits with it.
func TestRunKilled(t *testing.T) {
	name := ctrName(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := command(ctx, "run", "--name", name, "busybox", "sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, name)
	ok(t, "kill", name)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 137 {
		t.Fatalf("docker run after SIGKILL: %v", err)
	}
	if got := inspect(t, "{{.State.Status}} {{.State.ExitCode}}", name); got != "exited 137" {
		t.Fatalf("state %q", got)
	}
}

// docker run reference, --rm: the container is removed when it exits.
func TestRunRm(t *testing.T) {
	name := ctrName(t)
	if out := ok(t, "run", "--rm", "--name", name, "busybox", "true"); out != "" {
		t.Fatalf("stdout %q", out)
	}
	if out := ok(t, "ps", "-a", "-q", "--filter", "name=^"+name+"$"); out != "" {
		t.Fatalf("--rm container still listed: %q", out)
	}
}

// docker run reference, --name: a name in use is a 409 conflict
// ("Conflict. The container name ... is already in use"), exit 125; a
// malformed name is refused with the allowed pattern.
func TestRunNames(t *testing.T) {
	name := ctrName(t)
	id := strings.TrimSpace(ok(t, "create", "--name", name, "busybox", "true"))
	r := docker(t, "run", "--name", name, "busybox", "true")
	expect(t, r, 125, `docker: Error response from daemon: Conflict. The container name "/`+name+`" is already in use by container "`+id+`". You have to remove (or rename) that container to be able to reuse that name.`)

	r = docker(t, "run", "--name", "bad name!", "busybox", "true")
	expect(t, r, 125, "docker: Error response from daemon: Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
}

// inPty runs a docker command line under script(1), which gives it a
// pseudo-terminal, and returns the terminal's output and exit status. The
// input stays open (and empty) until the command ends, so script never
// writes an end-of-file to the terminal.
func inPty(t *testing.T, line string) ([]byte, int) {
	t.Helper()
	testutil.Require(t, testutil.Script)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	cmd := exec.CommandContext(ctx, "script", "-qec", "docker -H "+suite.d.Host+" "+line, "/dev/null")
	cmd.Env = dockerEnv()
	cmd.Stdin = r
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	t.Fatalf("script: %v", err)
	return nil, 0
}

// docker run reference, -t/-i: with a terminal the process gets a pty, its
// output comes back raw (CRLF line ends from the pty), and docker run exits
// with its code.
func TestRunTTY(t *testing.T) {
	out, code := inPty(t, "run -it --rm --name "+ctrName(t, "run")+" busybox sh -c 'tty; echo ok; exit 5'")
	if code != 5 || !regexp.MustCompile(`^/dev/pts/[0-9]+\r\nok\r\n$`).Match(out) {
		t.Fatalf("run -it: exit %d, output %q", code, out)
	}

	// docker exec reference, -it: the exec'd process gets its own pty.
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	out, code = inPty(t, "exec -it "+name+" sh -c 'tty; echo exec-ok; exit 6'")
	if code != 6 || !regexp.MustCompile(`^/dev/pts/[0-9]+\r\nexec-ok\r\n$`).Match(out) {
		t.Fatalf("exec -it: exit %d, output %q", code, out)
	}
}
