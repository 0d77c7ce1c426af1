//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

// cliTimeout bounds every berth invocation of the CLI tests.
const cliTimeout = 60 * time.Second

// cliShared is the daemon of the CLI tests, separate from the API tests'
// daemon so that prunes and image changes cannot disturb them.
var cliShared struct {
	once     sync.Once
	d        *testutil.Daemon
	err      error
	mu       sync.Mutex
	cleanups []func()
}

// cliDaemon returns the CLI tests' daemon, started on first use with
// busybox:latest imported. cleanupCLIDaemon stops it.
func cliDaemon(t *testing.T) *testutil.Daemon {
	t.Helper()
	testutil.Require(t, testutil.Root, testutil.Runc, testutil.Busybox, testutil.Overlay)
	cliShared.once.Do(func() {
		d, err := testutil.StartDaemon()
		if err != nil {
			cliShared.err = err
			return
		}
		cliShared.mu.Lock()
		cliShared.cleanups = append(cliShared.cleanups, d.Cleanup)
		cliShared.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.ImportBusybox(ctx, "busybox:latest"); err != nil {
			cliShared.err = err
			return
		}
		cliShared.d = d
	})
	if cliShared.err != nil {
		t.Fatalf("CLI daemon: %v", cliShared.err)
	}
	return cliShared.d
}

// cleanupCLIDaemon stops the CLI tests' daemon, if one was started, and
// removes everything it left. TestMain calls it after m.Run.
func cleanupCLIDaemon() {
	cliShared.mu.Lock()
	fns := cliShared.cleanups
	cliShared.cleanups = nil
	cliShared.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// cliName is a container or image name unique to the test.
func cliName(t *testing.T, suffix string) string {
	r := strings.NewReplacer("/", "_", " ", "_", "#", "_")
	n := "cli_" + strings.ToLower(r.Replace(t.Name()))
	if suffix != "" {
		n += "_" + suffix
	}
	return n
}

// cliResult is what one berth invocation produced.
type cliResult struct {
	Stdout, Stderr string
	Code           int
}

// berthBin returns the berth CLI binary.
func berthBin(t *testing.T) string {
	t.Helper()
	bin, err := testutil.Binary("berth")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// cliEnv is the environment of berth commands: the CLI daemon's socket.
func cliEnv(d *testutil.Daemon) []string {
	env := []string{"BERTH_HOST=" + d.Host}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "BERTH_HOST=") && !strings.HasPrefix(e, "DOCKER_HOST=") {
			env = append(env, e)
		}
	}
	return env
}

// berth runs the CLI against the CLI daemon with stdin (nil: no input)
// and returns its output and exit status.
func berth(t *testing.T, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	d := cliDaemon(t)
	ctx, cancel := context.WithTimeout(t.Context(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin(t), args...)
	cmd.Env = cliEnv(d)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("berth %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("berth %v timed out; stdout %q stderr %q", args, res.Stdout, res.Stderr)
	}
	return res
}

// mustBerth runs berth and fails the test unless it exits 0.
func mustBerth(t *testing.T, args ...string) string {
	t.Helper()
	r := berth(t, nil, args...)
	if r.Code != 0 {
		t.Fatalf("berth %v: exit %d, stdout %q, stderr %q", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// expectResult fails the test unless r has the exit code and output.
func expectResult(t *testing.T, what string, r cliResult, code int, stdout, stderr string) {
	t.Helper()
	if r.Code != code || r.Stdout != stdout || r.Stderr != stderr {
		t.Errorf("%s:\n got  exit %d stdout %q stderr %q\n want exit %d stdout %q stderr %q",
			what, r.Code, r.Stdout, r.Stderr, code, stdout, stderr)
	}
}

// removeContainers force-removes containers when the test ends.
func removeContainers(t *testing.T, names ...string) {
	t.Helper()
	d := cliDaemon(t)
	t.Cleanup(func() {
		c, err := d.Client()
		if err != nil {
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range names {
			_, _ = c.ContainerRemove(ctx, n, client.ContainerRemoveOptions{Force: true})
		}
	})
}

// removeImages removes images when the test ends.
func removeImages(t *testing.T, refs ...string) {
	t.Helper()
	d := cliDaemon(t)
	t.Cleanup(func() {
		c, err := d.Client()
		if err != nil {
			return
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range refs {
			_, _ = c.ImageRemove(ctx, r, client.ImageRemoveOptions{Force: true})
		}
	})
}

// session is a berth command running in the background (optionally on a
// pseudo-terminal made by script(1)), whose output a test can wait for.
type session struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	cond  *sync.Cond
	out   bytes.Buffer
	ended bool
	done  chan struct{}
	code  int
}

// startBerth starts berth in the background; with tty it runs under
// `script` so that berth's stdin and stdout are a terminal. Stdout and
// stderr are merged. The process is killed when the test ends.
func startBerth(t *testing.T, tty bool, args ...string) *session {
	t.Helper()
	d := cliDaemon(t)
	bin := berthBin(t)
	var cmd *exec.Cmd
	if tty {
		testutil.Require(t, testutil.Script)
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		cmd = exec.Command("script", "-qec", bin+" "+strings.Join(quoted, " "), "/dev/null")
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = cliEnv(d)
	s := &session{t: t, cmd: cmd, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = in
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			if err != nil {
				s.ended = true
			}
			s.cond.Broadcast()
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s.code = ee.ExitCode()
		}
		_ = pw.Close()
		close(s.done)
	}()
	timer := time.AfterFunc(cliTimeout, func() { _ = cmd.Process.Kill() })
	t.Cleanup(func() {
		timer.Stop()
		_ = s.stdin.Close()
		_ = cmd.Process.Kill()
		<-s.done
	})
	return s
}

// expect waits until the output contains want; it fails the test when the
// command ends (or is killed at its deadline) first.
func (s *session) expect(want string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for !strings.Contains(s.out.String(), want) {
		if s.ended {
			s.t.Fatalf("output ended without %q: %q", want, s.out.String())
		}
		s.cond.Wait()
	}
}

// send writes to the command's stdin.
func (s *session) send(text string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, text); err != nil {
		s.t.Fatalf("write stdin: %v", err)
	}
}

// wait waits for the command to end and returns its exit status and output.
func (s *session) wait() (int, string) {
	s.t.Helper()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.ended {
		s.cond.Wait()
	}
	return s.code, s.out.String()
}
