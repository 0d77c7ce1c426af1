// Package oci drives an OCI runtime binary (runc by default, crun selectable)
// through its command line. It knows nothing of berth's containers: it runs
// `create`, `start`, `exec`, `kill`, `delete`, `state`, `ps`, `pause` and
// `resume` for a bundle and an ID, and turns the runtime's error output into
// errdefs classes on the spot (the one place berth reads error strings).
package oci

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime is one OCI runtime binary with its own state directory.
type Runtime struct {
	// Name is the runtime's name as users see it ("runc", "crun", …).
	Name string
	// Path is the binary to run.
	Path string
	// Root is the runtime's state directory (its --root flag); each daemon
	// has its own so that several run side by side.
	Root string
}

// IO is the standard streams handed to the process the runtime starts.
// A nil field becomes /dev/null.
type IO struct {
	Stdin  *os.File
	Stdout *os.File
	Stderr *os.File
}

// CreateOpts are the options of Create.
type CreateOpts struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	IO            IO
}

// ExecOpts are the options of Exec. The process runs detached: Exec returns
// once it started, and the caller (a subreaper) becomes its parent.
type ExecOpts struct {
	ProcessFile   string
	PidFile       string
	ConsoleSocket string
	IO            IO
}

// State is the runtime's view of a container.
type State struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Bundle string `json:"bundle"`
}

func (r *Runtime) base(logFile string) []string {
	args := []string{"--root", r.Root}
	if logFile != "" {
		args = append(args, "--log", logFile, "--log-format", "json")
	}
	return args
}

// run executes the runtime, returning stdout; failures become classified errors.
func (r *Runtime) run(ctx context.Context, io IO, logFile string, args ...string) ([]byte, error) {
	full := append(r.base(logFile), args...)
	cmd := exec.CommandContext(ctx, r.Path, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if io.Stdin != nil {
		cmd.Stdin = io.Stdin
	}
	if io.Stdout != nil {
		cmd.Stdout = io.Stdout
	}
	if io.Stderr != nil {
		cmd.Stderr = io.Stderr
	}
	// The runtime must not die with the caller's session or signals.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	msg := ""
	if logFile != "" {
		msg = lastError(logFile)
	}
	if msg == "" {
		msg = strings.TrimSpace(stderr.String())
	}
	if msg == "" {
		msg = err.Error()
	}
	return nil, Classify(fmt.Errorf("OCI runtime %s failed: %s", args[0], msg))
}

// lastError returns the last error-level message of a runtime JSON log.
func lastError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") {
			last = e.Msg
		}
	}
	return last
}

// Classify maps the runtime's error text to an errdefs class: a missing or
// non-executable command is an invalid argument (Docker answers 400 and sets
// exit code 127 or 126), a missing container is not found.
func Classify(err error) error {
	s := strings.ToLower(err.Error())
	switch {
	case strings.Contains(s, "executable file not found"), strings.Contains(s, "no such file or directory"),
		strings.Contains(s, "permission denied"), strings.Contains(s, "is a directory"),
		strings.Contains(s, "exec format error"), strings.Contains(s, "not a directory"):
		return &classified{err: err, class: errdefs.ErrInvalidArgument}
	case strings.Contains(s, "does not exist"), strings.Contains(s, "container not found"):
		return &classified{err: err, class: errdefs.ErrNotFound}
	}
	return err
}

// classified keeps an error's text and adds an errdefs class.
type classified struct {
	err   error
	class error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.class, c.err} }

// ExitCodeFor returns the exit code Docker records for a process that could
// not be started: 127 when the command was not found, 126 when it could not
// be invoked, 0 when err says neither.
func ExitCodeFor(err error) int {
	s := strings.ToLower(err.Error())
	switch {
	case strings.Contains(s, "executable file not found"), strings.Contains(s, "no such file or directory"):
		return 127
	case strings.Contains(s, "permission denied"), strings.Contains(s, "is a directory"), strings.Contains(s, "exec format error"):
		return 126
	}
	return 0
}

// Create creates the container from bundle without starting its process.
func (r *Runtime) Create(ctx context.Context, id string, o CreateOpts) error {
	args := []string{"create", "--bundle", o.Bundle, "--pid-file", o.PidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	_, err := r.run(ctx, o.IO, filepath.Join(o.Bundle, "runtime.log"), append(args, id)...)
	return err
}

// Run creates the container and starts its process in one runtime call,
// detached: for starts that nobody is attached to.
func (r *Runtime) Run(ctx context.Context, id string, o CreateOpts) error {
	args := []string{"run", "--detach", "--bundle", o.Bundle, "--pid-file", o.PidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	_, err := r.run(ctx, o.IO, filepath.Join(o.Bundle, "runtime.log"), append(args, id)...)
	return err
}

// Start starts the process of a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, IO{}, "", "start", id)
	return err
}

// Exec starts an extra process in a running container, detached.
func (r *Runtime) Exec(ctx context.Context, id string, o ExecOpts) error {
	args := []string{"exec", "--detach", "--process", o.ProcessFile, "--pid-file", o.PidFile}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	logFile := strings.TrimSuffix(o.ProcessFile, ".json") + ".log"
	_, err := r.run(ctx, o.IO, logFile, append(args, id)...)
	return err
}

// Kill sends sig to the container's init process, or to all its processes.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(ctx, IO{}, "", append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

// Delete removes the runtime's state of the container; force kills it first.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, IO{}, "", append(args, id)...)
	if err != nil && errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

// State reports the runtime's state of the container.
func (r *Runtime) State(ctx context.Context, id string) (State, error) {
	out, err := r.run(ctx, IO{}, "", "state", id)
	if err != nil {
		return State{}, err
	}
	var s State
	if err := json.Unmarshal(out, &s); err != nil {
		return State{}, fmt.Errorf("%s state %s: %w", r.Name, id, err)
	}
	return s, nil
}

// Ps lists the host PIDs of the container's processes.
func (r *Runtime) Ps(ctx context.Context, id string) ([]int, error) {
	out, err := r.run(ctx, IO{}, "", "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("%s ps %s: %w", r.Name, id, err)
	}
	return pids, nil
}

// Update changes the cgroup limits of a running container.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "berth-update-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = r.run(ctx, IO{}, "", "update", "--resources", f.Name(), id)
	return err
}

// Pause freezes all processes of the container.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.run(ctx, IO{}, "", "pause", id)
	return err
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, err := r.run(ctx, IO{}, "", "resume", id)
	return err
}
