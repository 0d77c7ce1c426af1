package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the docker CLI for run/create/start failures.
const (
	exitDaemonError = 125 // the daemon refused, or a flag was wrong
	exitCannotExec  = 126 // the command in the container cannot be invoked
	exitNotFound    = 127 // the command in the container was not found
)

// StatusError is an error with the exit status the command should end with.
// An empty Status prints nothing.
type StatusError struct {
	Status     string
	StatusCode int
	Cause      error
}

// Error returns the status text, or the cause's text when there is none.
func (e StatusError) Error() string {
	if e.Status != "" {
		return e.Status
	}
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return fmt.Sprintf("exit status %d", e.StatusCode)
}

// Unwrap returns the cause.
func (e StatusError) Unwrap() error { return e.Cause }

// exitCode maps a command's error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.StatusCode == 0 {
			return 1
		}
		return se.StatusCode
	}
	return 1
}

// runStatusError classifies an error of create/start in `run` the way the
// docker CLI's toStatusError does: 127 when the command was not found, 126
// when it cannot be executed, 125 for anything else. The message is
// prefixed with "berth: " and followed by the help hint.
func runStatusError(err error, command string) error {
	msg := err.Error()
	code := exitDaemonError
	switch {
	case strings.Contains(msg, "executable file not found") ||
		strings.Contains(msg, "no such file or directory") ||
		strings.Contains(msg, "system cannot find the file specified"):
		code = exitNotFound
	case strings.Contains(msg, "permission denied") ||
		strings.Contains(msg, "is a directory") ||
		strings.Contains(msg, "cannot execute"):
		code = exitCannotExec
	}
	return StatusError{
		Cause:      err,
		Status:     fmt.Sprintf("%s: %s\n\nRun '%s %s --help' for more information", programName, msg, programName, command),
		StatusCode: code,
	}
}

// usageStatusError reports a bad option of run/create with status 125, as
// docker does: a bad flag value like a flag error (with the usage line),
// anything else prefixed with "berth: ".
func usageStatusError(err error, cmd *cobra.Command) error {
	var fe *flagValueError
	if errors.As(err, &fe) {
		return StatusError{Cause: err, Status: flagErrorFunc(cmd, err).Error(), StatusCode: exitDaemonError}
	}
	return StatusError{
		Cause:      err,
		Status:     fmt.Sprintf("%s: %s\n\nRun '%s --help' for more information", programName, err, cmd.CommandPath()),
		StatusCode: exitDaemonError,
	}
}

// joinErrors folds per-object errors into one error whose text is the
// messages on separate lines, as docker's multi-object commands print them.
func joinErrors(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}
