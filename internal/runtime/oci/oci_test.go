package oci

import (
	"errors"
	"testing"

	"github.com/containerd/errdefs"
)

func TestClassifyAndExitCode(t *testing.T) {
	tests := []struct {
		msg      string
		invalid  bool
		notFound bool
		code     int
	}{
		{`exec: "nope": executable file not found in $PATH`, true, false, 127},
		{`exec: "/x": stat /x: no such file or directory`, true, false, 127},
		{`exec: "/etc/passwd": permission denied`, true, false, 126},
		{`container "abc" does not exist`, false, true, 0},
		{`something else broke`, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			err := Classify(errors.New(tt.msg))
			if err.Error() != tt.msg {
				t.Fatalf("message changed: %q", err.Error())
			}
			if errdefs.IsInvalidArgument(err) != tt.invalid || errdefs.IsNotFound(err) != tt.notFound {
				t.Fatalf("class of %q: invalid=%v notfound=%v", tt.msg, errdefs.IsInvalidArgument(err), errdefs.IsNotFound(err))
			}
			if got := ExitCodeFor(err); got != tt.code {
				t.Fatalf("exit code %d, want %d", got, tt.code)
			}
		})
	}
}
