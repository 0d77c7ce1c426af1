package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// errDetached is returned when the user typed the detach sequence.
var errDetached = errors.New("detached by the escape sequence")

// errEscapeSequence is what attach and exec end with after a detach, in
// docker's words (status 1).
var errEscapeSequence = errors.New("read escape sequence")

// escapeProxy passes bytes through until the detach sequence is read; then
// it returns errDetached. Bytes that begin the sequence are held back until
// it is clear they are not part of it, as docker's term.EscapeProxy does.
type escapeProxy struct {
	r       io.Reader
	keys    []byte
	matched int
	queue   []byte
	err     error
}

func newEscapeProxy(r io.Reader, keys []byte) io.Reader {
	if len(keys) == 0 {
		return r
	}
	return &escapeProxy{r: r, keys: keys}
}

// Read implements io.Reader.
func (p *escapeProxy) Read(buf []byte) (int, error) {
	for len(p.queue) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		tmp := make([]byte, len(buf))
		n, err := p.r.Read(tmp)
		for _, b := range tmp[:n] {
			if p.err != nil {
				break
			}
			p.feed(b)
		}
		if err != nil && p.err == nil {
			if p.matched > 0 {
				p.queue = append(p.queue, p.keys[:p.matched]...)
				p.matched = 0
			}
			p.err = err
		}
		if n == 0 && err == nil {
			return 0, nil
		}
	}
	n := copy(buf, p.queue)
	p.queue = p.queue[n:]
	return n, nil
}

func (p *escapeProxy) feed(b byte) {
	if b == p.keys[p.matched] {
		p.matched++
		if p.matched == len(p.keys) {
			p.err = errDetached
			p.matched = 0
		}
		return
	}
	if p.matched > 0 {
		p.queue = append(p.queue, p.keys[:p.matched]...)
		p.matched = 0
		if b == p.keys[0] {
			p.matched = 1
			if len(p.keys) == 1 {
				p.err = errDetached
				p.matched = 0
			}
			return
		}
	}
	p.queue = append(p.queue, b)
}

// streams describes which local streams a hijacked connection serves.
type streams struct {
	tty        bool
	stdin      io.Reader // nil when stdin is not attached
	stdout     io.Writer // nil when stdout is not attached
	stderr     io.Writer // nil when stderr is not attached
	detachKeys []byte
}

// setRawTerminal puts stdin in raw mode when it is a terminal and a TTY is
// attached; the returned function restores it.
func (c *CLI) setRawTerminal(s streams) (restore func()) {
	if !s.tty || s.stdin == nil {
		return func() {}
	}
	fd, ok := c.stdinFd()
	if !ok {
		return func() {}
	}
	old, err := term.MakeRaw(fd)
	if err != nil {
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(func() { _ = term.Restore(fd, old) }) }
}

// pipeHijacked copies between a hijacked attach/exec connection and the
// local streams until the output ends, the user detaches (errDetached) or
// ctx ends. Without a TTY the output is demultiplexed with stdcopy.
//
// The stdin copier may stay blocked in a read of the local terminal after
// the function returns; it ends when the process does (the docker CLI has
// the same property), since a read of os.Stdin cannot be interrupted.
func (c *CLI) pipeHijacked(ctx context.Context, resp *client.HijackedResponse, s streams) error {
	restore := c.setRawTerminal(s)
	defer restore()

	outDone := make(chan error, 1)
	go func() {
		stdout, stderr := s.stdout, s.stderr
		if stdout == nil {
			stdout = io.Discard
		}
		if stderr == nil {
			stderr = io.Discard
		}
		var err error
		if s.tty {
			_, err = io.Copy(stdout, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, resp.Reader)
		}
		outDone <- err
	}()

	inDone := make(chan error, 1)
	if s.stdin != nil {
		go func() {
			in := s.stdin
			if s.tty {
				in = newEscapeProxy(in, s.detachKeys)
			}
			_, err := io.Copy(resp.Conn, in)
			if err == nil || !errors.Is(err, errDetached) {
				_ = resp.CloseWrite()
			}
			inDone <- err
		}()
	}

	select {
	case err := <-outDone:
		return ignoreClosed(err)
	case err := <-inDone:
		if errors.Is(err, errDetached) {
			restore()
			return errDetached
		}
		select {
		case err := <-outDone:
			return ignoreClosed(err)
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

// monitorTTYSize resizes the remote TTY to the local terminal now and on
// every SIGWINCH, until ctx ends. The caller waits on the returned channel.
func (c *CLI) monitorTTYSize(ctx context.Context, resize func(ctx context.Context, h, w uint) error) <-chan struct{} {
	done := make(chan struct{})
	fd, ok := c.stdoutFd()
	if !ok {
		close(done)
		return done
	}
	apply := func() {
		w, h, err := term.GetSize(fd)
		if err != nil || w <= 0 || h <= 0 {
			return
		}
		_ = resize(ctx, uint(h), uint(w))
	}
	apply()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGWINCH)
	go func() {
		defer close(done)
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				apply()
			}
		}
	}()
	return done
}

// forwardSignals sends the signals berth receives to the container, as
// --sig-proxy does, until ctx ends. The caller waits on the returned channel.
func (c *CLI) forwardSignals(ctx context.Context, api *client.Client, id string) <-chan struct{} {
	done := make(chan struct{})
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	go func() {
		defer close(done)
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				sig, ok := s.(unix.Signal)
				if !ok {
					continue
				}
				switch sig {
				case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG, unix.SIGWINCH:
					continue
				}
				name := unix.SignalName(sig)
				if name == "" {
					name = fmt.Sprint(int(sig))
				}
				if _, err := api.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: name}); err != nil {
					fmt.Fprintf(c.err, "error sending signal: %v\n", err)
				}
			}
		}
	}()
	return done
}

// termSize returns the width and height of the terminal fd.
func termSize(fd int) (int, int, error) { return term.GetSize(fd) }

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if bytes.Contains([]byte(s), []byte(sub)) {
			return true
		}
	}
	return false
}
