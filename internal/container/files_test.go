package container

import (
	"os"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

func TestArchiveBase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/etc", "etc"}, {"/etc/", "etc"}, {"/etc/.", "."}, {"/", "."}, {"etc/passwd", "passwd"},
		{"/a/../b", "b"}, {"/../../x", "x"},
	} {
		if got := archiveBase(tc.in); got != tc.want {
			t.Errorf("archiveBase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFollowsTrailing(t *testing.T) {
	for in, want := range map[string]bool{"/a": false, "/a/": true, "/a/.": true, "/a/..": false} {
		if got := followsTrailing(in); got != want {
			t.Errorf("followsTrailing(%q) = %v", in, got)
		}
	}
}

func TestFileMode(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want os.FileMode
	}{
		{unix.S_IFDIR | 0o755, os.ModeDir | 0o755},
		{unix.S_IFREG | unix.S_ISUID | 0o755, os.ModeSetuid | 0o755},
		{unix.S_IFLNK | 0o777, os.ModeSymlink | 0o777},
		{unix.S_IFDIR | unix.S_ISVTX | 0o777, os.ModeDir | os.ModeSticky | 0o777},
		{unix.S_IFCHR | 0o666, os.ModeDevice | os.ModeCharDevice | 0o666},
	} {
		if got := fileMode(tc.in); got != tc.want {
			t.Errorf("fileMode(%o) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestMergeCommitConfig(t *testing.T) {
	base := &container.Config{Cmd: []string{"sh"}, Env: []string{"A=1", "B=2"}, User: "u", Labels: map[string]string{"x": "1"}}
	for _, tc := range []struct {
		name string
		user *container.Config
		chk  func(*container.Config) bool
	}{
		{"nil keeps", nil, func(c *container.Config) bool { return slices.Equal(c.Cmd, []string{"sh"}) && c.User == "u" }},
		{"cmd wins", &container.Config{Cmd: []string{"ls"}}, func(c *container.Config) bool { return c.Cmd[0] == "ls" && c.User == "u" }},
		{"env by key", &container.Config{Env: []string{"B=3", "C=4"}}, func(c *container.Config) bool {
			return slices.Equal(c.Env, []string{"A=1", "B=3", "C=4"})
		}},
		{"labels merged", &container.Config{Labels: map[string]string{"y": "2"}}, func(c *container.Config) bool {
			return c.Labels["x"] == "1" && c.Labels["y"] == "2"
		}},
		{"entrypoint drops cmd", &container.Config{Entrypoint: []string{"/e"}}, func(c *container.Config) bool {
			return c.Entrypoint[0] == "/e" && c.Cmd == nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := MergeCommitConfig(tc.user, base)
			if !tc.chk(got) {
				t.Errorf("got %+v", got)
			}
			if len(base.Env) != 2 || len(base.Labels) != 1 || base.Cmd[0] != "sh" {
				t.Errorf("container config modified: %+v", base)
			}
		})
	}
}
