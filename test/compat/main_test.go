//go:build compat

// Package compat drives the real docker CLI (28.x) against a berthd started
// for the run, and pins the output, error text and exit codes that Docker
// gives for the same commands. Each test names the Docker behaviour it pins.
package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth/internal/testutil"
)

// suite is the daemon shared by every test and the docker CLI's config
// directory; TestMain sets them before any test runs.
var suite struct {
	d         *testutil.Daemon
	configDir string
}

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

func runSuite(m *testing.M) int {
	for _, p := range []testutil.Prereq{testutil.Root, testutil.Runc, testutil.Busybox, testutil.DockerCLI, testutil.Overlay} {
		if p.Check() {
			continue
		}
		if testutil.InCI() {
			fmt.Fprintf(os.Stderr, "compat: prerequisite missing in CI: %s\n", p.Name)
			return 1
		}
		fmt.Fprintf(os.Stderr, "compat: skipping the suite: prerequisite missing: %s\n", p.Name)
		return 0
	}
	d, err := testutil.StartDaemon()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: start berthd: %v\n", err)
		return 1
	}
	defer d.Cleanup()
	cfg, err := os.MkdirTemp("", "compat-docker-config-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: %v\n", err)
		return 1
	}
	defer os.RemoveAll(cfg)
	suite.d, suite.configDir = d, cfg

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = d.ImportBusybox(ctx, "busybox:latest")
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat: import busybox: %v\n%s", err, d.Logs())
		return 1
	}

	code := m.Run()
	if code == 0 {
		// Shims exit shortly after their container is removed.
		leaks := leftovers(d)
		for end := time.Now().Add(10 * time.Second); leaks != "" && time.Now().Before(end); leaks = leftovers(d) {
			time.Sleep(100 * time.Millisecond)
		}
		if leaks != "" {
			fmt.Fprintf(os.Stderr, "compat: the tests left things behind:\n%s", leaks)
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "compat: berthd log (last 60 lines):\n%s\n", tail(d.Logs(), 60))
	}
	return code
}

// leftovers reports containers, shims and mounts that outlived the tests.
func leftovers(d *testutil.Daemon) string {
	var b strings.Builder
	if r := run(context.Background(), nil, "ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}"); r.Code != 0 || r.Stdout != "" {
		fmt.Fprintf(&b, "containers:\n%s%s", r.Stdout, r.Stderr)
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		// The daemon names its exec root as a flag; shims and runtimes name
		// paths below it.
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		for _, a := range args {
			if strings.HasPrefix(a, d.ExecRoot+"/") {
				fmt.Fprintf(&b, "process %s: %s\n", p.Name(), strings.Join(args, " "))
				break
			}
		}
	}
	for _, mnt := range testutil.Mounts(filepath.Dir(d.DataRoot)) {
		fmt.Fprintf(&b, "mount: %s\n", mnt)
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// result is what one docker command did.
type result struct {
	Args   []string
	Stdout string
	Stderr string
	Code   int
}

func (r result) String() string {
	return fmt.Sprintf("docker %s: exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// dockerEnv is the environment of the docker CLI: no inherited host,
// context or config, and no hints.
func dockerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "DOCKER_CONFIG="+suite.configDir, "DOCKER_CLI_HINTS=false")
}

// command returns the docker CLI invocation of args against the suite's
// daemon.
func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", suite.d.Host}, args...)...)
	cmd.Env = dockerEnv()
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs docker with args and stdin, and returns what it did.
func run(ctx context.Context, stdin io.Reader, args ...string) result {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	r := result{Args: args, Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		r.Code = -1
		r.Stderr += "\n(run error: " + err.Error() + ")"
	}
	return r
}

// docker runs the docker CLI with args.
func docker(t *testing.T, args ...string) result {
	t.Helper()
	return run(t.Context(), nil, args...)
}

// dockerIn runs the docker CLI with args, feeding stdin.
func dockerIn(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	return run(t.Context(), stdin, args...)
}

// ok runs docker with args, fails the test unless it exits 0, and returns
// its stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := docker(t, args...)
	if r.Code != 0 {
		t.Fatalf("unexpected failure: %s", r)
	}
	return r.Stdout
}

// expect checks a result's exit code and that stderr holds every part.
func expect(t *testing.T, r result, code int, stderrParts ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	for _, p := range stderrParts {
		if !strings.Contains(r.Stderr, p) {
			t.Fatalf("stderr lacks %q: %s", p, r)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// ctrName returns a container name made from the test's name (and
// suffix) and removes that container when the test ends.
func ctrName(t *testing.T, suffix ...string) string {
	t.Helper()
	name := unsafeName.ReplaceAllString(strings.Join(append([]string{t.Name()}, suffix...), "-"), "-")
	t.Cleanup(func() { _ = run(context.Background(), nil, "rm", "-f", "-v", name) })
	return name
}

// imgName returns an image repository made from the test's name (and
// suffix) and removes tag from it when the test ends.
func imgName(t *testing.T, tag string, suffix ...string) string {
	t.Helper()
	repo := strings.ToLower(unsafeName.ReplaceAllString(strings.Join(append([]string{"compat", t.Name()}, suffix...), "-"), "-"))
	ref := repo + ":" + tag
	t.Cleanup(func() { _ = run(context.Background(), nil, "rmi", "-f", ref) })
	return ref
}

// eventually calls check until it reports done, failing the test with the
// last state after deadline.
func eventually(t *testing.T, deadline time.Duration, check func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		done, state := check()
		if done {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("condition not met after %v: %s", deadline, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inspect returns a Go-template field of a container or image.
func inspect(t *testing.T, format, ref string) string {
	t.Helper()
	return strings.TrimSpace(ok(t, "inspect", "--format", format, ref))
}

// waitRunning waits until the container's state is running.
func waitRunning(t *testing.T, name string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		r := run(t.Context(), nil, "inspect", "--format", "{{.State.Status}}", name)
		return strings.TrimSpace(r.Stdout) == "running", r.String()
	})
}

// busyboxTar returns the busybox rootfs tar that the suite imports.
func busyboxTar(t *testing.T) []byte {
	t.Helper()
	return testutil.BusyboxRootfsTar(t)
}
