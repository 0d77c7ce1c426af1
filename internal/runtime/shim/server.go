package shim

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"berth/internal/logger"
	"berth/internal/runtime/oci"
)

// drainTimeout bounds how long output is still read after the process exited,
// when a background child keeps the pipes open.
const drainTimeout = 2 * time.Second

// maxLine is the longest log message; longer lines are split, as Docker does.
const maxLine = 16 * 1024

type server struct {
	cfg Config
	rt  *oci.Runtime

	mu       sync.Mutex
	attached map[*attachConn]struct{}
	stdinW   *os.File // write end of the process's stdin, nil when closed or absent
	console  *os.File // pty master
	pid      int
	started  bool
	exit     *Exit
	exitCh   chan struct{}
	startCh  chan error
	log      logger.Driver
	copiers  sync.WaitGroup

	// gate is closed once output may flow (see Config.AttachWait).
	gate        chan struct{}
	gateOnce    sync.Once
	attachCount int
}

// attachGrace bounds how long output waits for expected attachments.
const attachGrace = 5 * time.Second

func (s *server) openGate() { s.gateOnce.Do(func() { close(s.gate) }) }

type attachConn struct {
	conn           net.Conn
	stdout, stderr bool
	mu             sync.Mutex
}

// Run is the shim's main: it creates the process, reports readiness on ready
// (then closes it), serves its socket, and returns after the process exited
// and its exit was recorded.
func Run(ctx context.Context, cfg Config, ready io.WriteCloser) error {
	s := &server{
		cfg:      cfg,
		rt:       &cfg.Runtime,
		attached: map[*attachConn]struct{}{},
		exitCh:   make(chan struct{}),
		startCh:  make(chan error, 1),
		gate:     make(chan struct{}),
	}
	// Output is held back until the expected clients attached, so a
	// process started at once loses nothing; never longer than
	// attachGrace, so a client that went away blocks nobody.
	if cfg.AttachWait <= 0 {
		s.openGate()
	} else {
		t := time.AfterFunc(attachGrace, s.openGate)
		defer t.Stop()
	}
	// The lock is held for the shim's whole life; Spawn of the next run of
	// the same container waits for it, so this shim's clean-up (runtime
	// delete) never races with a new start.
	lock, err := os.OpenFile(filepath.Join(cfg.StateDir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
	}
	if err != nil {
		fmt.Fprintf(ready, "error shim lock: %s\n", err)
		ready.Close()
		return err
	}
	defer lock.Close()
	err = s.prepare(ctx)
	if err != nil {
		fmt.Fprintf(ready, "error %s\n", err)
		ready.Close()
		return err
	}
	l, err := s.listen()
	if err != nil {
		fmt.Fprintf(ready, "error %s\n", err)
		ready.Close()
		return err
	}
	defer l.Close()
	go s.serve(l)
	fmt.Fprintf(ready, "ok %d\n", s.pid)
	ready.Close()

	// Wait for "start", then for the process.
	var startErr error
	select {
	case startErr = <-s.startCh:
	case <-ctx.Done():
		startErr = ctx.Err()
	}
	var e Exit
	if startErr != nil {
		e = Exit{ExitCode: oci.ExitCodeFor(startErr), Error: startErr.Error(), FinishedAt: time.Now().UTC()}
		if e.ExitCode == 0 {
			e.ExitCode = 128
		}
		s.closeProcessIO()
	} else {
		e = s.waitProcess()
		e.OOMKilled = oomKilled(s.cfg.CgroupPath)
	}
	s.drain()
	if s.log != nil {
		s.log.Close()
	}
	if err := writeExit(s.cfg.StateDir, e); err != nil {
		return fmt.Errorf("record exit: %w", err)
	}
	s.mu.Lock()
	s.exit = &e
	s.mu.Unlock()
	close(s.exitCh)
	if s.cfg.ExecProcess == "" {
		// Off the exit's critical path: a new start of this container
		// waits for the shim lock, which is released only after this.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = s.rt.Delete(dctx, s.cfg.ID, true)
		cancel()
	}
	return nil
}

// processIO is the set of files the runtime hands to the process.
type processIO struct {
	io            oci.IO
	consoleSocket string
	consoleL      *net.UnixListener
	closeAfter    []*os.File
}

func (s *server) setupIO() (*processIO, error) {
	p := &processIO{}
	if s.cfg.Tty {
		path := s.cfg.Socket + ".pty"
		_ = os.Remove(path)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		p.consoleSocket, p.consoleL = path, l
		return p, nil
	}
	if s.cfg.OpenStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.io.Stdin = r
		p.closeAfter = append(p.closeAfter, r)
		s.stdinW = w
	} else {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return nil, err
		}
		p.io.Stdin = devnull
		p.closeAfter = append(p.closeAfter, devnull)
	}
	for i, src := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			p.io.Stdout = w
		} else {
			p.io.Stderr = w
		}
		p.closeAfter = append(p.closeAfter, w)
		s.copiers.Add(1)
		go s.copyOutput(r, src)
	}
	return p, nil
}

// receiveConsole accepts the runtime's connection on the console socket and
// takes the pty master it passes.
func (s *server) receiveConsole(l *net.UnixListener) (*os.File, error) {
	defer l.Close()
	defer os.Remove(l.Addr().String())
	_ = l.SetDeadline(time.Now().Add(30 * time.Second))
	c, err := l.AcceptUnix()
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	defer c.Close()
	buf := make([]byte, 256)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("console socket: no control message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("console socket: no fd")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

func (s *server) prepare(ctx context.Context) error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set child subreaper: %w", err)
	}
	if s.cfg.LogPath != "" || s.cfg.LogDriver != "" {
		d, err := logger.New(s.cfg.LogDriver, s.cfg.LogPath, s.cfg.LogOpts)
		if err != nil {
			return err
		}
		s.log = d
	}
	if s.cfg.ExecProcess != "" {
		return nil // an exec is created and started at once, on "start"
	}
	pio, err := s.setupIO()
	if err != nil {
		return err
	}
	consoleCh := s.acceptConsole(pio)
	pidFile := filepath.Join(s.cfg.StateDir, "init.pid")
	opts := oci.CreateOpts{Bundle: s.cfg.Bundle, PidFile: pidFile, ConsoleSocket: pio.consoleSocket, IO: pio.io}
	if s.cfg.StartNow {
		err = s.rt.Run(ctx, s.cfg.ID, opts)
		if err == nil {
			s.started = true
			s.startCh <- nil
		}
	} else {
		err = s.rt.Create(ctx, s.cfg.ID, opts)
	}
	for _, f := range pio.closeAfter {
		f.Close()
	}
	if err != nil {
		if pio.consoleL != nil {
			pio.consoleL.Close()
		}
		s.closeProcessIO()
		return err
	}
	if err := s.takeConsole(consoleCh); err != nil {
		return err
	}
	s.pid, err = readPid(pidFile)
	return err
}

type consoleResult struct {
	f   *os.File
	err error
}

func (s *server) acceptConsole(pio *processIO) chan consoleResult {
	if pio.consoleL == nil {
		return nil
	}
	ch := make(chan consoleResult, 1)
	go func() {
		f, err := s.receiveConsole(pio.consoleL)
		ch <- consoleResult{f, err}
	}()
	return ch
}

func (s *server) takeConsole(ch chan consoleResult) error {
	if ch == nil {
		return nil
	}
	r := <-ch
	if r.err != nil {
		return r.err
	}
	s.console = r.f
	s.copiers.Add(1)
	go s.copyOutput(r.f, "stdout")
	return nil
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse pid file: %w", err)
	}
	return pid, nil
}

// start starts the process: runtime start for a container's init, runtime
// exec for an exec process.
func (s *server) start(ctx context.Context) (int, error) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return 0, errors.New("already started")
	}
	s.started = true
	s.mu.Unlock()
	if s.cfg.ExecProcess == "" {
		err := s.rt.Start(ctx, s.cfg.ID)
		s.startCh <- err
		return s.pid, err
	}
	pio, err := s.setupIO()
	if err != nil {
		s.startCh <- err
		return 0, err
	}
	consoleCh := s.acceptConsole(pio)
	pidFile := filepath.Join(s.cfg.StateDir, "exec.pid")
	err = s.rt.Exec(ctx, s.cfg.ID, oci.ExecOpts{ProcessFile: s.cfg.ExecProcess, PidFile: pidFile, ConsoleSocket: pio.consoleSocket, IO: pio.io})
	for _, f := range pio.closeAfter {
		f.Close()
	}
	if err == nil {
		err = s.takeConsole(consoleCh)
	} else if pio.consoleL != nil {
		pio.consoleL.Close()
	}
	if err == nil {
		s.pid, err = readPid(pidFile)
	}
	s.startCh <- err
	return s.pid, err
}

// waitProcess reaps the process and any other children the shim inherits.
func (s *server) waitProcess() Exit {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			// No children left: the process is gone without us seeing it.
			return Exit{Pid: s.pid, ExitCode: 255, FinishedAt: time.Now().UTC(), Error: err.Error()}
		}
		if pid != s.pid {
			continue
		}
		e := Exit{Pid: pid, FinishedAt: time.Now().UTC()}
		switch {
		case ws.Exited():
			e.ExitCode = ws.ExitStatus()
		case ws.Signaled():
			e.ExitCode = 128 + int(ws.Signal())
		}
		return e
	}
}

func (s *server) closeProcessIO() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stdinW != nil {
		s.stdinW.Close()
		s.stdinW = nil
	}
}

// drain waits for the output copiers to finish, but not forever: a
// background child may still hold the pipes.
func (s *server) drain() {
	done := make(chan struct{})
	go func() { s.copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(drainTimeout):
	}
	s.closeProcessIO()
	s.mu.Lock()
	if s.console != nil {
		s.console.Close()
	}
	for a := range s.attached {
		a.conn.Close()
	}
	s.mu.Unlock()
}

// copyOutput reads one output stream, logging it line by line and copying
// every chunk to the attached clients.
func (s *server) copyOutput(r *os.File, source string) {
	defer s.copiers.Done()
	defer r.Close()
	<-s.gate
	stream := byte(1)
	if source == "stderr" {
		stream = 2
	}
	buf := make([]byte, 32*1024)
	var line []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			s.broadcast(stream, chunk)
			line = s.logLines(line, chunk, source)
		}
		if err != nil {
			if len(line) > 0 {
				s.logMessage(line, source)
			}
			return
		}
	}
}

// logLines appends chunk to the pending line and logs every complete line.
func (s *server) logLines(pending, chunk []byte, source string) []byte {
	if s.log == nil {
		return nil
	}
	for len(chunk) > 0 {
		i := indexByte(chunk, '\n')
		if i < 0 {
			pending = append(pending, chunk...)
			for len(pending) >= maxLine {
				s.logMessage(pending[:maxLine], source)
				pending = append(pending[:0], pending[maxLine:]...)
			}
			return pending
		}
		pending = append(pending, chunk[:i+1]...)
		s.logMessage(pending, source)
		pending = pending[:0]
		chunk = chunk[i+1:]
	}
	return pending
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func (s *server) logMessage(line []byte, source string) {
	if s.log == nil {
		return
	}
	msg := &logger.Message{Line: append([]byte(nil), line...), Source: source, Timestamp: time.Now().UTC()}
	_ = s.log.Log(msg)
}

func (s *server) broadcast(stream byte, p []byte) {
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	s.mu.Lock()
	conns := make([]*attachConn, 0, len(s.attached))
	for a := range s.attached {
		conns = append(conns, a)
	}
	s.mu.Unlock()
	for _, a := range conns {
		if (stream == 1 && !a.stdout) || (stream == 2 && !a.stderr) {
			continue
		}
		a.mu.Lock()
		_ = a.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := a.conn.Write(append(hdr[:], p...))
		a.mu.Unlock()
		if err != nil {
			s.detach(a)
		}
	}
}

func (s *server) detach(a *attachConn) {
	s.mu.Lock()
	delete(s.attached, a)
	s.mu.Unlock()
	a.conn.Close()
}

func (s *server) listen() (net.Listener, error) {
	_ = os.Remove(s.cfg.Socket)
	l, err := net.Listen("unix", s.cfg.Socket)
	if err != nil {
		return nil, fmt.Errorf("shim socket: %w", err)
	}
	return l, nil
}

func (s *server) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go s.handle(c)
	}
}

func writeReply(c net.Conn, r reply) {
	b, _ := json.Marshal(r)
	_, _ = c.Write(append(b, '\n'))
}

func (s *server) handle(c net.Conn) {
	br := bufio.NewReader(c)
	line, err := br.ReadBytes('\n')
	if err != nil {
		c.Close()
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		writeReply(c, reply{Error: "bad request"})
		c.Close()
		return
	}
	switch req.Op {
	case "start":
		defer c.Close()
		pid, err := s.start(context.Background())
		if err != nil {
			writeReply(c, reply{Error: err.Error()})
			return
		}
		writeReply(c, reply{Pid: pid})
	case "wait":
		defer c.Close()
		<-s.exitCh
		s.mu.Lock()
		e := *s.exit
		s.mu.Unlock()
		writeReply(c, reply{Exit: &e})
	case "resize":
		defer c.Close()
		s.mu.Lock()
		con := s.console
		s.mu.Unlock()
		if con == nil {
			writeReply(c, reply{Error: "no tty"})
			return
		}
		ws := &unix.Winsize{Row: req.Height, Col: req.Width}
		if err := unix.IoctlSetWinsize(int(con.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			writeReply(c, reply{Error: err.Error()})
			return
		}
		writeReply(c, reply{})
	case "signal":
		defer c.Close()
		s.mu.Lock()
		pid, done := s.pid, s.exit != nil
		s.mu.Unlock()
		if pid == 0 || done {
			writeReply(c, reply{Error: "process not running"})
			return
		}
		if err := syscall.Kill(pid, syscall.Signal(req.Signal)); err != nil {
			writeReply(c, reply{Error: err.Error()})
			return
		}
		writeReply(c, reply{})
	case "attach":
		s.attach(c, br, req)
	default:
		writeReply(c, reply{Error: "unknown op " + req.Op})
		c.Close()
	}
}

func (s *server) attach(c net.Conn, br *bufio.Reader, req request) {
	a := &attachConn{conn: c, stdout: req.Stdout, stderr: req.Stderr}
	s.mu.Lock()
	if s.exit != nil {
		s.mu.Unlock()
		writeReply(c, reply{Exit: s.exit})
		c.Close()
		return
	}
	s.attached[a] = struct{}{}
	s.attachCount++
	open := s.attachCount >= s.cfg.AttachWait
	s.mu.Unlock()
	a.mu.Lock()
	writeReply(c, reply{Pid: s.pid})
	a.mu.Unlock()
	if open {
		s.openGate()
	}
	if !req.Stdin {
		// Hold the connection until the client goes away or the shim closes it.
		_, _ = io.Copy(io.Discard, br)
		s.detach(a)
		return
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			s.writeStdin(buf[:n])
		}
		if err != nil {
			break
		}
	}
	// As in Docker, a client's end of input (or detach) closes the
	// process's stdin only without a terminal; a terminal stays open.
	if s.cfg.StdinOnce && !s.cfg.Tty {
		s.closeProcessIO()
	}
	// Keep streaming output until the process ends or the client closes.
	<-s.exitCh
}

func (s *server) writeStdin(p []byte) {
	s.mu.Lock()
	w, con := s.stdinW, s.console
	s.mu.Unlock()
	switch {
	case con != nil:
		_, _ = con.Write(p)
	case w != nil:
		_, _ = w.Write(p)
	}
}

// oomKilled reports whether the kernel's OOM killer acted in the cgroup
// (cgroup v1 memory.oom_control, or v2 memory.events).
func oomKilled(rel string) bool {
	if rel == "" {
		return false
	}
	for _, f := range []string{
		filepath.Join("/sys/fs/cgroup/memory", rel, "memory.oom_control"),
		filepath.Join("/sys/fs/cgroup", rel, "memory.events"),
	} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, " "); ok && k == "oom_kill" && strings.TrimSpace(v) != "0" {
				return true
			}
		}
	}
	return false
}
