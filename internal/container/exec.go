package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/log"
	"berth/internal/runtime/shim"
	"berth/internal/runtime/spec"
)

// Exec is a process run in a running container by `exec`.
type Exec struct {
	ID          string
	ContainerID string
	Config      container.ExecCreateRequest

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	socket   string
}

// ExecCreate records an exec for a running container.
func (m *Manager) ExecCreate(ctx context.Context, ref string, req container.ExecCreateRequest) (string, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return "", err
	}
	if len(req.Cmd) == 0 {
		return "", errorf(errdefs.ErrInvalidArgument, "No exec command specified")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Status == container.StatePaused {
		return "", errorf(errdefs.ErrConflict, "Container %s is paused, unpause the container before exec", e.rec.ID)
	}
	if !e.running() {
		return "", errorf(errdefs.ErrConflict, "container %s is not running", e.rec.ID)
	}
	x := &Exec{ID: newID(), ContainerID: e.rec.ID, Config: req}
	m.mu.Lock()
	m.execs[x.ID] = x
	m.mu.Unlock()
	e.execs[x.ID] = x
	m.publish(e, events.Action("exec_create: "+joinCmd(req.Cmd)), map[string]string{"execID": x.ID})
	return x.ID, nil
}

func joinCmd(c []string) string {
	s := ""
	for i, a := range c {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}

func (m *Manager) exec(id string) (*Exec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	x, ok := m.execs[id]
	if !ok {
		return nil, errorf(errdefs.ErrNotFound, "No such exec instance: %s", id)
	}
	return x, nil
}

// ExecStartOptions are the options of ExecStart.
type ExecStartOptions struct {
	Detach      bool
	ConsoleSize *[2]uint
}

// ExecStart starts an exec. Unless detached it returns the attached stream
// of the process. A process that cannot be started records exit code 126
// like Docker and returns the error.
func (m *Manager) ExecStart(ctx context.Context, execID string, o ExecStartOptions) (*shim.Attachment, error) {
	x, err := m.exec(execID)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	if x.started {
		x.mu.Unlock()
		return nil, errorf(errdefs.ErrConflict, "Error: Exec command %s is already running", execID)
	}
	x.started = true
	x.mu.Unlock()
	e, err := m.lookup(x.ContainerID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if !e.running() {
		e.mu.Unlock()
		return nil, errorf(errdefs.ErrConflict, "container %s is not running", e.rec.ID)
	}
	rt, err := m.runtime(e.rec.Runtime)
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	bundle := m.bundleDir(e.rec.ID)
	e.mu.Unlock()

	fail := func(err error) (*shim.Attachment, error) {
		// dockerd records 126 for every exec that fails to start, even
		// for a command that is not found (its deferred clean-up
		// overrides the 127 that the runtime error suggests).
		code := 126
		x.mu.Lock()
		x.exitCode = &code
		x.mu.Unlock()
		return nil, err
	}
	proc, err := m.execProcess(bundle, x)
	if err != nil {
		return fail(err)
	}
	dir := filepath.Join(bundle, "exec", x.ID[:16])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	b, _ := json.Marshal(proc)
	pfile := filepath.Join(dir, "process.json")
	if err := os.WriteFile(pfile, b, 0o600); err != nil {
		return fail(fmt.Errorf("write exec process: %w", err))
	}
	cfg := shim.Config{
		ID: x.ContainerID, Runtime: *rt, StateDir: dir, Socket: m.socket(x.ID), ExecProcess: pfile,
		Tty: x.Config.Tty, OpenStdin: x.Config.AttachStdin, StdinOnce: true,
	}
	sctx := context.WithoutCancel(ctx)
	p, err := shim.Spawn(sctx, m.cfg.Shim, cfg)
	if err != nil {
		return fail(err)
	}
	c := shim.Client{Socket: p.Socket}
	var att *shim.Attachment
	if !o.Detach {
		att, err = c.Attach(sctx, x.Config.AttachStdin, x.Config.AttachStdout, x.Config.AttachStderr)
		if err != nil {
			return fail(err)
		}
	}
	pid, err := c.Start(sctx)
	if err != nil {
		if att != nil {
			att.Close()
		}
		if !strings.HasPrefix(err.Error(), "OCI runtime exec failed") {
			err = fmt.Errorf("OCI runtime exec failed: %w", err)
		}
		return fail(err)
	}
	if o.ConsoleSize != nil && x.Config.Tty {
		_ = c.Resize(sctx, uint16(o.ConsoleSize[0]), uint16(o.ConsoleSize[1]))
	}
	x.mu.Lock()
	x.running, x.pid, x.socket = true, pid, p.Socket
	x.mu.Unlock()
	e.mu.Lock()
	m.publish(e, events.Action("exec_start: "+joinCmd(x.Config.Cmd)), map[string]string{"execID": x.ID})
	e.mu.Unlock()
	// The attached output ends only after the exit code is recorded, so a
	// client that inspects the exec when its stream ends (docker exec) sees
	// the code, as with dockerd.
	exited := make(chan struct{})
	if att != nil {
		att.Reader = bufio.NewReader(exitGate{r: att.Reader, exited: exited})
	}
	go func() {
		defer close(exited)
		ex, err := c.Wait(m.baseCtx)
		if err != nil {
			if rec, ok, _ := shim.ReadExit(dir); ok {
				ex = rec
			} else {
				ex = shim.Exit{ExitCode: 255}
			}
		}
		x.mu.Lock()
		code := ex.ExitCode
		x.running, x.exitCode = false, &code
		x.mu.Unlock()
		e.mu.Lock()
		m.publish(e, events.Action("exec_die"), map[string]string{"execID": x.ID, "exitCode": strconv.Itoa(code)})
		e.mu.Unlock()
		_ = os.Remove(p.Socket)
		log.From(m.baseCtx).Debug("exec exited", "container", x.ContainerID, "exec", x.ID)
	}()
	return att, nil
}

// exitGate holds back the end of an exec's output until its exit is
// recorded.
type exitGate struct {
	r      io.Reader
	exited <-chan struct{}
}

func (g exitGate) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if errors.Is(err, io.EOF) {
		<-g.exited
	}
	return n, err
}

// execProcess derives the exec's OCI process from the container's spec.
func (m *Manager) execProcess(bundle string, x *Exec) (*specs.Process, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse container spec: %w", err)
	}
	p := *s.Process
	p.Args = x.Config.Cmd
	p.Terminal = x.Config.Tty
	p.Env = mergeEnv(p.Env, x.Config.Env)
	if x.Config.WorkingDir != "" {
		p.Cwd = x.Config.WorkingDir
	}
	if x.Config.User != "" {
		u, err := spec.ResolveUser(filepath.Join(bundle, "rootfs"), x.Config.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if x.Config.Privileged {
		caps, err := spec.AllCapabilities()
		if err == nil {
			p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
		}
	}
	if x.Config.ConsoleSize != nil {
		p.ConsoleSize = &specs.Box{Height: x.Config.ConsoleSize[0], Width: x.Config.ConsoleSize[1]}
	}
	return &p, nil
}

// ExecInspect returns Docker's view of an exec.
func (m *Manager) ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error) {
	x, err := m.exec(execID)
	if err != nil {
		return container.ExecInspectResponse{}, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	entry := ""
	var args []string
	if len(x.Config.Cmd) > 0 {
		entry, args = x.Config.Cmd[0], x.Config.Cmd[1:]
	}
	priv := x.Config.Privileged
	return container.ExecInspectResponse{
		ID: x.ID, Running: x.running, ExitCode: x.exitCode, ContainerID: x.ContainerID, Pid: x.pid,
		OpenStdin: x.Config.AttachStdin, OpenStdout: x.Config.AttachStdout, OpenStderr: x.Config.AttachStderr,
		CanRemove: !x.running && x.started,
		ProcessConfig: &container.ExecProcessConfig{
			Tty: x.Config.Tty, Entrypoint: entry, Arguments: args, Privileged: &priv, User: x.Config.User,
		},
	}, nil
}

// ExecResize resizes an exec's terminal.
func (m *Manager) ExecResize(ctx context.Context, execID string, h, w uint16) error {
	x, err := m.exec(execID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	sock := x.socket
	x.mu.Unlock()
	if sock == "" {
		return errorf(errdefs.ErrConflict, "exec %s is not running", execID)
	}
	return shim.Client{Socket: sock}.Resize(ctx, h, w)
}

// Resize resizes a container's terminal.
func (m *Manager) Resize(ctx context.Context, ref string, h, w uint16) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	running := e.running()
	id := e.rec.ID
	e.mu.Unlock()
	if !running {
		return errNotRunning(id)
	}
	return shim.Client{Socket: m.socket(id)}.Resize(ctx, h, w)
}
