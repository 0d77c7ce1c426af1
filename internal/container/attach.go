package container

import (
	"context"
	"errors"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	"berth/internal/log"
	"berth/internal/logger"
	"berth/internal/logger/jsonfile"
	"berth/internal/runtime/shim"
)

// AttachOptions selects the streams of an attach.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
}

type attachResult struct {
	a   *shim.Attachment
	err error
}

type pendingAttach struct {
	o  AttachOptions
	ch chan attachResult
}

// Attach is a pending or live attachment to a container's streams.
type Attach struct {
	// Tty tells whether the container has a terminal (raw stream) or not
	// (multiplexed stream).
	Tty bool
	// StdinOnce tells whether the container's stdin closes with this client's.
	StdinOnce bool
	m         *Manager
	e         *entry
	o         AttachOptions
	p         *pendingAttach
}

// Attach prepares an attachment. When the container is not running, the
// attachment is connected when it next starts (so `start -a` and `run` see
// all output); Connect waits for that.
func (m *Manager) Attach(ctx context.Context, ref string, o AttachOptions) (*Attach, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := &Attach{Tty: e.rec.Config.Tty, StdinOnce: e.rec.Config.StdinOnce, m: m, e: e, o: o}
	if o.Stdin && !e.rec.Config.OpenStdin {
		a.o.Stdin = false
	}
	if !e.running() {
		a.p = &pendingAttach{o: a.o, ch: make(chan attachResult, 1)}
		e.pending = append(e.pending, a.p)
	}
	m.publish(e, events.ActionAttach, nil)
	return a, nil
}

// Connect returns the live stream, waiting for the container to start when
// it was not running at Attach time.
func (a *Attach) Connect(ctx context.Context) (*shim.Attachment, error) {
	if a.p == nil {
		return shim.Client{Socket: a.m.socket(a.e.rec.ID)}.Attach(ctx, a.o.Stdin, a.o.Stdout, a.o.Stderr)
	}
	select {
	case r := <-a.p.ch:
		return r.a, r.err
	case <-ctx.Done():
		a.e.mu.Lock()
		for i, p := range a.e.pending {
			if p == a.p {
				a.e.pending = append(a.e.pending[:i], a.e.pending[i+1:]...)
				break
			}
		}
		a.e.mu.Unlock()
		return nil, ctx.Err()
	}
}

// connectPending attaches every waiting client to a freshly created shim,
// before its process starts. The caller holds e.mu.
func (m *Manager) connectPending(ctx context.Context, e *entry, c shim.Client) {
	for _, p := range e.pending {
		att, err := c.Attach(ctx, p.o.Stdin, p.o.Stdout, p.o.Stderr)
		p.ch <- attachResult{att, err}
	}
	e.pending = nil
}

// failPending tells waiting clients that the start failed. The caller holds e.mu.
func (m *Manager) failPending(e *entry, err error) {
	for _, p := range e.pending {
		p.ch <- attachResult{nil, err}
	}
	e.pending = nil
}

// LogsOptions are the options of Logs.
type LogsOptions struct {
	Stdout, Stderr bool
	Follow         bool
	Since, Until   time.Time
	Tail           int // < 0 for all
}

// Logs is a prepared log read.
type Logs struct {
	// Tty tells whether the container has a terminal: the output is then
	// written raw rather than multiplexed.
	Tty  bool
	path string
	cfg  jsonfile.ReadConfig
	o    LogsOptions
}

// Logs prepares reading a container's logs. Containers whose driver keeps
// nothing readable return a FailedPrecondition error with Docker's text.
func (m *Manager) Logs(ctx context.Context, ref string, o LogsOptions) (*Logs, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	driver := e.rec.HostConfig.LogConfig.Type
	if driver != "json-file" && driver != "" {
		return nil, errorf(errdefs.ErrFailedPrecondition, "configured logging driver does not support reading")
	}
	done := make(chan struct{})
	if exited := e.exited; exited != nil && o.Follow {
		removed := e.removed
		go func() {
			select {
			case <-exited:
			case <-removed:
			}
			close(done)
		}()
	} else {
		close(done)
	}
	return &Logs{Tty: e.rec.Config.Tty, path: e.rec.LogPath, o: o, cfg: jsonfile.ReadConfig{
		Since: o.Since, Until: o.Until, Tail: o.Tail, Follow: o.Follow, Done: done,
	}}, nil
}

// Read calls fn for each selected log message until the log ends (or, when
// following, until the container stops or ctx ends).
func (l *Logs) Read(ctx context.Context, fn func(*logger.Message) error) error {
	err := jsonfile.Read(ctx, l.path, l.cfg, func(msg *logger.Message) error {
		if (msg.Source == "stdout" && !l.o.Stdout) || (msg.Source == "stderr" && !l.o.Stderr) {
			return nil
		}
		return fn(msg)
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	if err != nil {
		log.From(ctx).Debug("read logs", "err", err)
	}
	return err
}
