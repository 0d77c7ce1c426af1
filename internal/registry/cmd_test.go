package registry_test

import (
	"bytes"
	"strings"
	"testing"

	"berth/internal/registry"
	"berth/internal/testutil"
)

func TestMain_GC(t *testing.T) {
	e := newEnv(t, nil)
	e.pushBlob("r", []byte("unreferenced"))
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"dry run", []string{"gc", "--root", e.root, "--grace", "0", "--dry-run"}, 0, "would remove 1 blobs"},
		{"collect", []string{"gc", "--root", e.root, "--grace", "0"}, 0, "removed 1 blobs"},
		{"again", []string{"gc", "--root", e.root, "--grace", "0"}, 0, "removed 0 blobs"},
		{"bad flag", []string{"gc", "--nope"}, 1, ""},
		{"serve bad config", []string{"--root", e.root, "--tls-cert", "x"}, 1, ""},
		{"help", []string{"--help"}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := registry.Main(testutil.Context(t), tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.out) {
				t.Fatalf("output %q lacks %q", out.String(), tc.out)
			}
		})
	}
}
