package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// engine is one container engine under test, driven through its CLI.
type engine struct {
	name string
	cli  []string // argv prefix of every CLI call
	env  []string // extra environment of every CLI call
	dir  string   // the engine's private directory under the work dir

	daemon    *exec.Cmd // nil for a daemonless engine
	daemonLog string

	// daemons and shims pick the engine's long-lived processes out of a
	// /proc snapshot.
	daemons func(ps []proc) []proc
	shims   func(ps []proc) []proc
	// runcRoots are the runc state directories the engine uses, for the
	// last-resort cleanup.
	runcRoots []string
	// specOf returns the path of a running container's OCI spec, when the
	// engine's layout is known (berth); nil otherwise.
	specOf func(id string) string
	// daemonless engines are driven without a daemon (podman).
	daemonless bool
	// stopExtra stops helper processes of the engine, if any.
	stopExtra func() error
	// netnsPID is a process in the network namespace the bench made for
	// the engine's daemon (the daemon itself), 0 when it has none. Only
	// such engines run the network scenarios.
	netnsPID int
}

// command returns the CLI call with args.
func (e *engine) command(ctx context.Context, args ...string) *exec.Cmd {
	argv := append(append([]string(nil), e.cli...), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(cleanEnv(), e.env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs the CLI with args and returns its trimmed stdout and wall time.
func (e *engine) run(ctx context.Context, args ...string) (string, time.Duration, error) {
	return e.runIn(ctx, nil, args...)
}

// runIn is run with stdin from in (nil for none).
func (e *engine) runIn(ctx context.Context, in *os.File, args ...string) (string, time.Duration, error) {
	cmd := e.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if in != nil {
		cmd.Stdin = in
	}
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return "", d, fmt.Errorf("%s %s: %w: %s", e.name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), d, nil
}

// cleanEnv is the bench's environment without the variables that would
// point a CLI at some other daemon or configuration.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch strings.SplitN(kv, "=", 2)[0] {
		case "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH",
			"BERTH_HOST", "CONTAINER_HOST", "CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// removeAll force-removes every container the engine knows about.
func (e *engine) removeAll(ctx context.Context) error {
	ids, _, err := e.run(ctx, "ps", "-aq")
	if err != nil {
		return err
	}
	if f := strings.Fields(ids); len(f) > 0 {
		_, _, err = e.run(ctx, append([]string{"rm", "-f"}, f...)...)
	}
	return err
}

// startDaemon starts argv as a daemon logging to logPath and waits until it
// answers GET /_ping on sock. With netns the daemon gets a network namespace
// of its own (with lo up), so bridges, firewall rules and sysctls it sets
// vanish with it and the host's network configuration is never touched. The
// daemon gets its own process group so a terminal's Ctrl-C reaches only the
// bench, which then stops the daemon in order.
func startDaemon(ctx context.Context, argv []string, logPath, sock string, netns bool) (*exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	if netns {
		argv = append([]string{"/bin/sh", "-c", `ip link set lo up 2>/dev/null; exec "$@"`, "sh"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if netns {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://daemon/_ping", nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// The goroutine above reaps the daemon when it exits;
				// stopProcess watches /proc for that.
				return cmd, nil
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("%s exited before it was ready (%v); see %s", argv[len(argv)-1], err, logPath)
		case <-ctx.Done():
			_ = stopProcess(cmd.Process.Pid, 10*time.Second)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = stopProcess(cmd.Process.Pid, 10*time.Second)
			return nil, fmt.Errorf("daemon not ready after 60s; see %s", logPath)
		}
	}
}

// stopProcess sends SIGTERM to pid, waits up to grace for it to go, then
// sends SIGKILL.
func stopProcess(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("signal %d: %w", pid, err)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	return nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// teardown stops everything the engine may have left: its containers
// (through the CLI while the daemon still runs), the daemon, any runc
// container still in its state directories, and any process still naming
// the engine's directory on its command line (shims, containerd).
func (e *engine) teardown() []error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if e.daemon != nil || e.daemonless {
		if err := e.removeAll(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: remove containers: %w", e.name, err))
		}
	}
	if e.daemon != nil {
		if err := stopProcess(e.daemon.Process.Pid, 30*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("%s: stop daemon: %w", e.name, err))
		}
	}
	for _, root := range e.runcRoots {
		if _, err := os.Stat(root); err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, "runc", "--root", root, "list", "-q").Output()
		if err != nil {
			continue
		}
		for _, id := range strings.Fields(string(out)) {
			if err := exec.CommandContext(ctx, "runc", "--root", root, "delete", "-f", id).Run(); err != nil {
				errs = append(errs, fmt.Errorf("%s: runc delete %s: %w", e.name, id, err))
			}
		}
	}
	if e.stopExtra != nil {
		if err := e.stopExtra(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.name, err))
		}
	}
	ps, err := processes()
	if err != nil {
		return append(errs, err)
	}
	for _, p := range ps {
		if p.pid != os.Getpid() && p.hasArgPrefix(e.dir) {
			if err := stopProcess(p.pid, 5*time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: leftover process %d: %w", e.name, p.pid, err))
			}
		}
	}
	return errs
}

// pids returns the PIDs of ps.
func pids(ps []proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid
	}
	return out
}

// names returns the distinct command names of ps joined with " + ".
func names(ps []proc) string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.comm] {
			seen[p.comm] = true
			out = append(out, p.comm)
		}
	}
	return strings.Join(out, " + ")
}

// newBerth starts berthd with its state under dir.
func newBerth(ctx context.Context, o *options, dir, cgroupParent string) (*engine, error) {
	sock := filepath.Join(dir, "berth.sock")
	execRoot := filepath.Join(dir, "run")
	e := &engine{
		name:      "berth",
		cli:       []string{o.berth, "-H", "unix://" + sock},
		dir:       dir,
		daemonLog: filepath.Join(dir, "berthd.log"),
		runcRoots: []string{filepath.Join(execRoot, "runtime-runc")},
		specOf:    func(id string) string { return filepath.Join(execRoot, "containers", id, "config.json") },
	}
	argv := []string{o.berthd, "-H", "unix://" + sock, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", execRoot, "--pidfile", filepath.Join(dir, "berthd.pid"),
		"--cgroup-parent", cgroupParent, "--config-file", filepath.Join(dir, "daemon.json")}
	if o.debug {
		argv = append(argv, "--log-level", "debug")
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	cmd, err := startDaemon(ctx, argv, e.daemonLog, sock, o.netns)
	if err != nil {
		return e, fmt.Errorf("berthd: %w", err)
	}
	e.daemon = cmd
	dpid := cmd.Process.Pid
	if o.netns {
		e.netnsPID = dpid
	}
	e.daemons = func(ps []proc) []proc {
		var out []proc
		for _, p := range ps {
			if p.pid == dpid {
				out = append(out, p)
			}
		}
		return out
	}
	e.shims = func(ps []proc) []proc {
		var out []proc
		for _, p := range ps {
			if len(p.argv) >= 3 && p.argv[1] == "shim" && p.hasArgPrefix(execRoot+"/") {
				out = append(out, p)
			}
		}
		return out
	}
	return e, nil
}

// newDocker starts dockerd (which starts its own containerd) with its state
// under dir, and drives it with the docker CLI given in the options.
func newDocker(ctx context.Context, o *options, dir, cgroupParent string) (*engine, error) {
	sock := filepath.Join(dir, "docker.sock")
	execRoot := filepath.Join(dir, "run")
	cfg := filepath.Join(dir, "daemon.json")
	cliCfg := filepath.Join(dir, "cli")
	e := &engine{
		name:      "docker",
		cli:       []string{o.docker, "-H", "unix://" + sock},
		env:       []string{"DOCKER_CONFIG=" + cliCfg},
		dir:       dir,
		daemonLog: filepath.Join(dir, "dockerd.log"),
		runcRoots: []string{filepath.Join(execRoot, "runtime-runc", "moby")},
	}
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cliCfg, 0o700); err != nil {
		return nil, err
	}
	argv := []string{o.dockerd, "-H", "unix://" + sock, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", execRoot, "--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--config-file", cfg, "--cgroup-parent", "/" + cgroupParent}
	if o.debug {
		argv = append(argv, "--debug")
	}
	cmd, err := startDaemon(ctx, argv, e.daemonLog, sock, o.netns)
	if err != nil {
		return e, fmt.Errorf("dockerd: %w", err)
	}
	e.daemon = cmd
	dpid := cmd.Process.Pid
	if o.netns {
		e.netnsPID = dpid
	}
	e.daemons = func(ps []proc) []proc {
		var out []proc
		for _, p := range ps {
			if p.pid == dpid || (p.ppid == dpid && p.comm == "containerd") {
				out = append(out, p)
			}
		}
		return out
	}
	e.shims = func(ps []proc) []proc {
		var out []proc
		for _, p := range ps {
			if strings.HasPrefix(p.comm, "containerd-shim") && p.hasArgPrefix(execRoot+"/") {
				out = append(out, p)
			}
		}
		return out
	}
	return e, nil
}

// newPodman prepares podman with its storage under dir. Podman has no
// daemon; its per-container monitor is conmon. Its commands run inside a
// network namespace held by a sleeping process, so the bridge and firewall
// rules it makes for the default network stay off the host.
func newPodman(o *options, dir string) (*engine, error) {
	e := &engine{name: "podman", dir: dir, daemonless: true}
	cli := []string{o.podman, "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", filepath.Join(dir, "tmp")}
	if o.netns {
		holder := exec.Command("/bin/sh", "-c", `ip link set lo up 2>/dev/null; exec sleep 2147483647`, dir)
		holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWNET}
		if err := holder.Start(); err != nil {
			return nil, fmt.Errorf("podman netns holder: %w", err)
		}
		go func() { _ = holder.Wait() }()
		hpid := holder.Process.Pid
		cli = append([]string{"nsenter", fmt.Sprintf("--net=/proc/%d/ns/net", hpid), "--"}, cli...)
		e.stopExtra = func() error { return stopProcess(hpid, 5*time.Second) }
	}
	e.cli = cli
	e.env = []string{"CONTAINERS_CONF=/dev/null"}
	root := filepath.Join(dir, "root") + "/"
	e.shims = func(ps []proc) []proc {
		var out []proc
		for _, p := range ps {
			if p.comm == "conmon" && p.hasArgPrefix(root) {
				out = append(out, p)
			}
		}
		return out
	}
	return e, nil
}
