//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// cpEntry is what a round trip must keep of an entry.
type cpEntry struct {
	Type     byte
	Mode     int64
	Uid, Gid int
	Link     string
	Data     string
}

// readTar reads a tar into entries by cleaned name.
func readTar(t *testing.T, r io.Reader) map[string]cpEntry {
	t.Helper()
	out := map[string]cpEntry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[strings.TrimSuffix(h.Name, "/")] = cpEntry{Type: h.Typeflag, Mode: h.Mode & 0o7777, Uid: h.Uid, Gid: h.Gid, Link: h.Linkname, Data: string(b)}
	}
}

// treeTar is a tree with links, modes and owners, under "tree/".
func treeTar(t *testing.T) ([]byte, map[string]cpEntry) {
	t.Helper()
	want := map[string]cpEntry{
		"tree":            {Type: tar.TypeDir, Mode: 0o750, Uid: 1001, Gid: 1002},
		"tree/sub":        {Type: tar.TypeDir, Mode: 0o2775, Uid: 0, Gid: 50},
		"tree/sub/exec":   {Type: tar.TypeReg, Mode: 0o4755, Uid: 0, Gid: 0, Data: "#!/bin/sh\necho hi\n"},
		"tree/secret":     {Type: tar.TypeReg, Mode: 0o600, Uid: 1234, Gid: 5678, Data: "s3cret"},
		"tree/hard":       {Type: tar.TypeLink, Mode: 0o600, Uid: 1234, Gid: 5678, Link: "tree/secret"},
		"tree/rel-link":   {Type: tar.TypeSymlink, Mode: 0o777, Uid: 1001, Gid: 1002, Link: "sub/exec"},
		"tree/abs-link":   {Type: tar.TypeSymlink, Mode: 0o777, Link: "/etc/passwd"},
		"tree/sub/sticky": {Type: tar.TypeDir, Mode: 0o1777, Uid: 7, Gid: 7},
	}
	// Parents first, and the hard link after its target.
	names := []string{"tree", "tree/sub", "tree/sub/exec", "tree/sub/sticky", "tree/secret", "tree/hard", "tree/rel-link", "tree/abs-link"}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		e := want[n]
		h := &tar.Header{Typeflag: e.Type, Name: n, Mode: e.Mode, Uid: e.Uid, Gid: e.Gid, Linkname: e.Link, Size: int64(len(e.Data)), Format: tar.FormatPAX}
		if e.Type == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.Data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), want
}

func compareTree(t *testing.T, got, want map[string]cpEntry) {
	t.Helper()
	for n, w := range want {
		g, ok := got[n]
		if !ok {
			t.Errorf("%s missing from the copy", n)
			continue
		}
		if w.Type == tar.TypeLink || g.Type == tar.TypeLink {
			// A hard-linked pair may come out either way round.
			other := got[g.Link]
			if g.Type == tar.TypeReg && g.Data == "s3cret" || g.Type == tar.TypeLink && other.Data == "s3cret" {
				continue
			}
			t.Errorf("%s: %+v, want one of the hard-linked pair", n, g)
			continue
		}
		if w.Type == tar.TypeSymlink {
			w.Mode, g.Mode = 0, 0
		}
		if g != w {
			t.Errorf("%s: got %+v, want %+v", n, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d: %v", len(got), len(want), got)
	}
}

func TestCp_RoundTripTree(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	for _, running := range []bool{false, true} {
		t.Run(map[bool]string{false: "stopped", true: "running"}[running], func(t *testing.T) {
			cfg := &container.Config{Cmd: []string{"true"}}
			if running {
				cfg.Cmd = []string{"sleep", "300"}
			}
			id := create(t, c, name(t, ""), cfg, nil)
			if running {
				if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			data, want := treeTar(t)
			if _, err := c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/tmp", Content: bytes.NewReader(data)}); err != nil {
				t.Fatalf("copy to: %v", err)
			}
			st, err := c.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: "/tmp/tree"})
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if !st.Stat.Mode.IsDir() || st.Stat.Name != "tree" || st.Stat.Mode.Perm() != 0o750 {
				t.Errorf("stat = %+v", st.Stat)
			}
			res, err := c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/tmp/tree"})
			if err != nil {
				t.Fatalf("copy from: %v", err)
			}
			got := readTar(t, res.Content)
			res.Content.Close()
			compareTree(t, got, want)

			// A single file comes under its own name; a symlink as itself.
			res, err = c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/tmp/tree/secret"})
			if err != nil {
				t.Fatal(err)
			}
			one := readTar(t, res.Content)
			res.Content.Close()
			if e := one["secret"]; len(one) != 1 || e.Data != "s3cret" || e.Uid != 1234 || e.Mode != 0o600 {
				t.Errorf("single file: %+v", one)
			}
			st, err = c.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: "/tmp/tree/rel-link"})
			if err != nil {
				t.Fatal(err)
			}
			if st.Stat.Mode&os.ModeSymlink == 0 || st.Stat.LinkTarget != "/tmp/tree/sub/exec" {
				t.Errorf("symlink stat = %+v", st.Stat)
			}
			// "dir/." archives the contents.
			res, err = c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/tmp/tree/sub/."})
			if err != nil {
				t.Fatal(err)
			}
			dot := readTar(t, res.Content)
			res.Content.Close()
			if _, ok := dot["./exec"]; !ok {
				t.Errorf("dir/. archive: %v", dot)
			}
		})
	}
}

func TestCp_Errors(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"true"}}, nil)
	_, err := c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: "/no/such/file"})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("missing path: %v, want not found", err)
	}
	_, err = c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/etc/passwd", Content: bytes.NewReader(nil)})
	if !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("extract to a file: %v, want invalid argument", err)
	}
	// Replacing a directory by a file is refused when asked.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc", Mode: 0o644})
	_ = tw.Close()
	_, err = c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: "/", Content: &buf})
	if !cerrdefs.IsInvalidArgument(err) {
		t.Errorf("dir over non-dir: %v, want invalid argument", err)
	}
}

// TestCp_SymlinkEscapeContained pins that paths resolve inside the
// container: symlinks the container made to host paths lead nowhere outside.
func TestCp_SymlinkEscapeContained(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "host-secret"), []byte("host"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c",
		"ln -s " + host + " /abs && ln -s ../../../../../../.." + host + " /rel && ln -s /../../../../ /up && mkdir -p " + host},
	}, nil)
	if code, _, errOut := runToExit(t, c, id); code != 0 {
		t.Fatalf("setup exited %d: %s", code, errOut)
	}
	for _, p := range []string{"/abs/host-secret", "/rel/host-secret", "/up" + host + "/host-secret", "/../../.." + host + "/host-secret"} {
		_, err := c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p})
		if !cerrdefs.IsNotFound(err) {
			t.Errorf("read %s: %v, want not found (contained)", p, err)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "planted", Mode: 0o644, Size: 2})
	_, _ = tw.Write([]byte("hi"))
	_ = tw.Close()
	for _, p := range []string{"/abs", "/rel", "/up" + host} {
		if _, err := c.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: p, Content: bytes.NewReader(buf.Bytes())}); err != nil {
			t.Fatalf("write through %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(host, "planted")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a write through a container symlink reached the host: %v", err)
	}
	res, err := c.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: host + "/planted"})
	if err != nil {
		t.Fatalf("the file is not in the container: %v", err)
	}
	res.Content.Close()
}

func TestDiff_Kinds(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "echo new > /added && rm /etc/group && echo x >> /etc/passwd && mkdir -p /home/d/e"}}, nil)
	if code, _, errOut := runToExit(t, c, id); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	res, err := c.ContainerDiff(t.Context(), id, client.ContainerDiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]container.ChangeType{}
	for _, ch := range res.Changes {
		got[ch.Path] = ch.Kind
	}
	want := map[string]container.ChangeType{
		"/added": container.ChangeAdd, "/etc": container.ChangeModify, "/etc/group": container.ChangeDelete,
		"/etc/passwd": container.ChangeModify, "/home": container.ChangeModify, "/home/d": container.ChangeAdd,
		"/home/d/e": container.ChangeAdd,
	}
	for p, k := range want {
		if g, ok := got[p]; !ok || g != k {
			t.Errorf("%s: got %v (present %v), want %v; all: %v", p, g, ok, k, got)
		}
	}
}

func TestExport_Contents(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "echo exported > /root/file && rm /etc/group"}}, nil)
	if code, _, errOut := runToExit(t, c, id); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	rc, err := c.ContainerExport(t.Context(), id, client.ContainerExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := readTar(t, rc)
	rc.Close()
	if got["root/file"].Data != "exported\n" {
		t.Errorf("root/file = %+v", got["root/file"])
	}
	if e := got["bin/busybox"]; e.Type != tar.TypeReg || e.Mode&0o111 == 0 {
		t.Errorf("bin/busybox = %v", e.Type)
	}
	if _, ok := got["etc/group"]; ok {
		t.Error("a deleted file is in the export")
	}
	if _, ok := got["etc/passwd"]; !ok {
		t.Error("etc/passwd missing from the export")
	}
}

func TestCommit_ImageRuns(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	id := create(t, c, name(t, "src"), &container.Config{Cmd: []string{"sh", "-c", "echo committed > /greeting && rm /etc/group"}}, nil)
	if code, _, errOut := runToExit(t, c, id); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ref := name(t, "") + ":v1"
	res, err := c.ContainerCommit(ctx, id, client.ContainerCommitOptions{
		Reference: ref, Comment: "a message", Author: "someone",
		Changes: []string{`CMD ["sh", "-c", "cat /greeting; test -e /etc/group || echo gone"]`, "ENV FOO=bar"},
	})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	t.Cleanup(func() { _, _ = c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true}) })
	img, err := c.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != res.ID || img.Comment != "a message" || img.Author != "someone" {
		t.Errorf("image: id %s (commit said %s), comment %q, author %q", img.ID, res.ID, img.Comment, img.Author)
	}
	run := create(t, c, name(t, "run"), &container.Config{Image: ref}, nil)
	code, out, errOut := runToExit(t, c, run)
	if code != 0 || out != "committed\ngone\n" {
		t.Errorf("committed image ran: exit %d, out %q, err %q", code, out, errOut)
	}
	if env := inspect(t, c, run).Config.Env; !strings.Contains(strings.Join(env, " "), "FOO=bar") {
		t.Errorf("env = %v", env)
	}
	// A running container is committed paused, then runs on.
	live := create(t, c, name(t, "live"), &container.Config{Cmd: []string{"sh", "-c", "echo live > /live; sleep 300"}}, nil)
	if _, err := c.ContainerStart(ctx, live, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ContainerCommit(ctx, live, client.ContainerCommitOptions{}); err != nil {
		t.Fatalf("commit running: %v", err)
	}
	if st := inspect(t, c, live).State; !st.Running || st.Paused {
		t.Errorf("after commit: %+v", st)
	}
}

// TestCLI_CpDiffCommit drives cp both ways, diff and commit through berth.
func TestCLI_CpDiffCommit(t *testing.T) {
	ctr := cliName(t, "")
	img := cliName(t, "img") + ":v1"
	removeContainers(t, ctr)
	removeImages(t, img)
	mustBerth(t, "create", "--name", ctr, "busybox", "true")
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d", "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "sub", "f"), []byte("data"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(src, "d", "l")); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, "cp", filepath.Join(src, "d"), ctr+":/root/")
	mustBerth(t, "cp", filepath.Join(src, "d", "sub", "f"), ctr+":/root/renamed")
	out := t.TempDir()
	mustBerth(t, "cp", ctr+":/root/d", filepath.Join(out, "back"))
	if b, err := os.ReadFile(filepath.Join(out, "back", "sub", "f")); err != nil || string(b) != "data" {
		t.Errorf("round trip: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(out, "back", "l")); err != nil || l != "sub/f" {
		t.Errorf("symlink: %q %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(out, "back", "sub")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("dir mode: %v %v", st, err)
	}
	mustBerth(t, "cp", "-L", ctr+":/root/d/l", filepath.Join(out, "followed"))
	if b, err := os.ReadFile(filepath.Join(out, "followed")); err != nil || string(b) != "data" {
		t.Errorf("cp -L: %q %v", b, err)
	}
	if got := mustBerth(t, "cp", ctr+":/root/renamed", "-"); !strings.Contains(got, "data") {
		t.Errorf("cp to -: %q", got)
	}
	if d := mustBerth(t, "diff", ctr); !strings.Contains(d, "C /root\nA /root/d\n") || !strings.Contains(d, "A /root/renamed") {
		t.Errorf("diff:\n%s", d)
	}
	id := strings.TrimSpace(mustBerth(t, "commit", "-c", "CMD cat /root/renamed", "-m", "msg", ctr, img))
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("commit printed %q", id)
	}
	run := cliName(t, "run")
	removeContainers(t, run)
	if got := mustBerth(t, "run", "--name", run, img); got != "data" {
		t.Errorf("committed image printed %q", got)
	}
}
