package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"berth/internal/runtime/oci"
)

// Process is a running shim as berthd sees it.
type Process struct {
	// Pid is the container process's host PID (0 for an exec not yet started).
	Pid int
	// Socket is the shim's socket.
	Socket string
	// StateDir is the shim's state directory.
	StateDir string
	cmd      *exec.Cmd
}

// Spawn starts `self shim CONFIG` for cfg, detached in its own session, and
// waits until it reports ready: the process is created (not started). The
// caller then attaches and calls Start. The shim is reaped in the background
// when it exits while the caller still runs.
func Spawn(ctx context.Context, self string, cfg Config) (*Process, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("shim state dir: %w", err)
	}
	if err := waitPrevious(ctx, cfg.StateDir); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(cfg.StateDir, ExitFile))
	cfgPath := filepath.Join(cfg.StateDir, "shim.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return nil, fmt.Errorf("write shim config: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(cfg.StateDir, "shim.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("shim log: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command(self, "shim", cfgPath)
	cmd.Stdout = pw
	cmd.Stderr = logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start shim: %w", err)
	}
	pw.Close()
	go func() { _ = cmd.Wait() }()

	type result struct {
		line string
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(pr).ReadString('\n')
		ch <- result{line, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return nil, ctx.Err()
	}
	line := strings.TrimSpace(r.line)
	switch {
	case strings.HasPrefix(line, "ok "):
		pid, _ := strconv.Atoi(strings.TrimPrefix(line, "ok "))
		return &Process{Pid: pid, Socket: cfg.Socket, StateDir: cfg.StateDir, cmd: cmd}, nil
	case strings.HasPrefix(line, "error "):
		return nil, oci.Classify(errors.New(strings.TrimPrefix(line, "error ")))
	}
	return nil, fmt.Errorf("shim for %s exited before it was ready (see %s)", cfg.ID, filepath.Join(cfg.StateDir, "shim.log"))
}

// waitPrevious waits until no shim holds the lock of stateDir: a previous
// shim of the same container may still be cleaning up after its exit.
func waitPrevious(ctx context.Context, stateDir string) error {
	f, err := os.OpenFile(filepath.Join(stateDir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("shim lock: %w", err)
	}
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
		f.Close() // closing releases the lock
		return nil
	}
	// Block on the lock in a goroutine (the kernel wakes it when the old
	// shim exits); the goroutine owns f.
	done := make(chan error, 1)
	go func() {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		f.Close()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("shim lock: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("previous shim of %s still running: %w", stateDir, ctx.Err())
	}
}

// Client talks to a shim over its socket.
type Client struct {
	// Socket is the shim's socket path.
	Socket string
}

func (c Client) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, fmt.Errorf("shim %s: %w: %w", c.Socket, errdefs.ErrUnavailable, err)
	}
	return conn, nil
}

func (c Client) call(ctx context.Context, req request) (reply, net.Conn, *bufio.Reader, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return reply{}, nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		stop()
		conn.Close()
		return reply{}, nil, nil, fmt.Errorf("shim %s: %w", req.Op, err)
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	stop()
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return reply{}, nil, nil, ctx.Err()
		}
		return reply{}, nil, nil, fmt.Errorf("shim %s: %w: %w", req.Op, errdefs.ErrUnavailable, err)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		conn.Close()
		return reply{}, nil, nil, fmt.Errorf("shim %s: bad reply: %w", req.Op, err)
	}
	return r, conn, br, nil
}

func (c Client) simple(ctx context.Context, req request) (reply, error) {
	r, conn, _, err := c.call(ctx, req)
	if err != nil {
		return r, err
	}
	conn.Close()
	if r.Error != "" {
		return r, oci.Classify(errors.New(r.Error))
	}
	return r, nil
}

// Start starts the created process and returns its PID.
func (c Client) Start(ctx context.Context) (int, error) {
	r, err := c.simple(ctx, request{Op: "start"})
	return r.Pid, err
}

// Wait blocks until the process exited and returns its exit. The error
// wraps errdefs.ErrUnavailable when the shim is gone or went away.
func (c Client) Wait(ctx context.Context) (Exit, error) {
	r, err := c.simple(ctx, request{Op: "wait"})
	if err != nil {
		return Exit{}, err
	}
	if r.Exit == nil {
		return Exit{}, fmt.Errorf("shim wait: %w: no exit in reply", errdefs.ErrUnavailable)
	}
	return *r.Exit, nil
}

// Resize sets the size of the process's terminal.
func (c Client) Resize(ctx context.Context, height, width uint16) error {
	_, err := c.simple(ctx, request{Op: "resize", Height: height, Width: width})
	return err
}

// Signal sends sig to the process (used for exec processes; a container's
// init is signalled through the runtime).
func (c Client) Signal(ctx context.Context, sig syscall.Signal) error {
	_, err := c.simple(ctx, request{Op: "signal", Signal: int(sig)})
	return err
}

// Attachment is an attached stream: read it for multiplexed output frames,
// write stdin to it, CloseWrite to end stdin.
type Attachment struct {
	*bufio.Reader
	Conn *net.UnixConn
	// Exited is set when the process had already exited at attach time.
	Exited *Exit
}

// Write writes stdin bytes to the process.
func (a *Attachment) Write(p []byte) (int, error) { return a.Conn.Write(p) }

// CloseWrite ends the process's stdin (for StdinOnce processes).
func (a *Attachment) CloseWrite() error { return a.Conn.CloseWrite() }

// Close ends the attachment.
func (a *Attachment) Close() error { return a.Conn.Close() }

// Attach connects to the process's streams.
func (c Client) Attach(ctx context.Context, stdin, stdout, stderr bool) (*Attachment, error) {
	r, conn, br, err := c.call(ctx, request{Op: "attach", Stdin: stdin, Stdout: stdout, Stderr: stderr})
	if err != nil {
		return nil, err
	}
	if r.Error != "" {
		conn.Close()
		return nil, errors.New(r.Error)
	}
	return &Attachment{Reader: br, Conn: conn.(*net.UnixConn), Exited: r.Exit}, nil
}
