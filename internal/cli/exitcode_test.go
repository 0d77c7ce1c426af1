package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestRunStatusError(t *testing.T) {
	tests := []struct {
		msg  string
		code int
	}{
		{`Error response from daemon: failed to create task: exec: "nope": executable file not found in $PATH`, 127},
		{"Error response from daemon: exec /bin/x: no such file or directory", 127},
		{"Error response from daemon: exec /etc/passwd: permission denied", 126},
		{"Error response from daemon: exec /etc: is a directory", 126},
		{"Error response from daemon: /bin/x: cannot execute binary file", 126},
		{"Error response from daemon: No such image: nope:latest", 125},
		{"Error response from daemon: Conflict. The container name \"/x\" is already in use", 125},
	}
	for _, tc := range tests {
		err := runStatusError(errors.New(tc.msg), "run")
		if got := exitCode(err); got != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.msg, got, tc.code)
		}
		want := "berth: " + tc.msg + "\n\nRun 'berth run --help' for more information"
		if err.Error() != want {
			t.Errorf("message %q, want %q", err.Error(), want)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{StatusError{StatusCode: 3}, 3},
		{StatusError{Status: "x"}, 1},
		{fmt.Errorf("wrapped: %w", StatusError{StatusCode: 42}), 42},
		{usageStatusError(errors.New("bad."), testCommand()), 125},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	cmd := testCommand()
	if got := usageStatusError(errors.New("bad value"), cmd).Error(); got != "berth: bad value\n\nRun 'berth create --help' for more information" {
		t.Errorf("usage message %q", got)
	}
	fe := flagError(cmd.Flags(), "memory", "x", errors.New("invalid size: 'x'"))
	want := "invalid argument \"x\" for \"-m, --memory\" flag: invalid size: 'x'\n\nUsage:  berth create [OPTIONS] IMAGE\n\nRun 'berth create --help' for more information"
	if got := usageStatusError(fe, cmd).Error(); got != want {
		t.Errorf("flag value message %q, want %q", got, want)
	}
}

// testCommand is a "berth create" command with a -m/--memory flag.
func testCommand() *cobra.Command {
	root := &cobra.Command{Use: "berth"}
	cmd := newCommand("create [OPTIONS] IMAGE", "Create", nil, nil)
	cmd.Flags().StringP("memory", "m", "", "")
	root.AddCommand(cmd)
	return cmd
}

func TestJoinErrors(t *testing.T) {
	if joinErrors(nil) != nil {
		t.Fatal("joinErrors(nil) != nil")
	}
	if got := joinErrors([]string{"a", "b"}).Error(); got != "a\nb" || strings.Count(got, "\n") != 1 {
		t.Fatalf("got %q", got)
	}
}
