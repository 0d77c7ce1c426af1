// Package initproc is the tiny init berth bind-mounts into containers run
// with --init (at /sbin/docker-init, as Docker does): it runs the command as
// its child, forwards signals to it, reaps every zombie that is re-parented
// to it, and exits with the command's status. berthd becomes it when invoked
// under the name docker-init.
package initproc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Run runs args (after an optional leading "--") and returns the exit code
// to exit with.
func Run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-init: no command given")
		return 1
	}
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// The child gets its own process group so terminal signals reach it as
	// they would reach a shell's foreground job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: isTerminal(0), Ctty: 0}
	if !isTerminal(0) {
		cmd.SysProcAttr.Foreground = false
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "docker-init: %v\n", err)
		if os.IsNotExist(err) || isNotFound(err) {
			return 127
		}
		return 126
	}
	child := cmd.Process.Pid
	for s := range sigs {
		sig := s.(syscall.Signal)
		if sig == syscall.SIGURG {
			continue // the Go runtime's own preemption signal
		}
		if sig == syscall.SIGCHLD {
			if code, done := reap(child); done {
				return code
			}
			continue
		}
		_ = syscall.Kill(child, sig)
	}
	return 0
}

func isNotFound(err error) bool {
	e, ok := err.(*exec.Error)
	return ok && e.Err == exec.ErrNotFound
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// reap collects all exited children; done is set once the main child exited.
func reap(child int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || pid <= 0 {
			return code, done
		}
		if pid == child {
			done = true
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			} else {
				code = ws.ExitStatus()
			}
		}
	}
}
