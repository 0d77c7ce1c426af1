//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"

	"berth/internal/testutil"
)

// A data root that fills up gives a clear error and corrupts nothing: the
// daemon keeps serving, earlier images still run, no partial blob remains.
func TestDataRoot_FullDisk(t *testing.T) {
	d, err := testutil.NewDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	if err := unix.Mount("tmpfs", d.DataRoot, "tmpfs", 0, "size=12m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	if err := d.ImportBusybox(t.Context(), "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	c, err := d.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := make([]byte, 16<<20)
	_, _ = rand.Read(big)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: int64(len(big)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(big)
	_ = tw.Close()
	rc, err := c.ImageImport(t.Context(), client.ImageImportSource{Source: &buf, SourceName: "-"}, "toobig:latest", client.ImageImportOptions{})
	if err == nil {
		b, _ := io.ReadAll(rc)
		rc.Close()
		t.Fatalf("import onto a full disk succeeded: %s", b)
	}
	if !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("error does not say the disk is full: %v", err)
	}
	ingest, _ := os.ReadDir(filepath.Join(d.DataRoot, "content", "ingest"))
	if len(ingest) != 0 {
		t.Fatalf("partial ingest files left: %v", ingest)
	}
	if _, err := c.ImageInspect(t.Context(), "toobig:latest"); err == nil {
		t.Fatal("a half-imported image is visible")
	}
	id := create(t, c, "", &container.Config{Cmd: []string{"echo", "still fine"}}, nil)
	if code, out, _ := runToExit(t, c, id); code != 0 || out != "still fine\n" {
		t.Fatalf("after a full disk: exit %d %q", code, out)
	}
}

// json-file rotation follows --log-opt: at most max-file files of about
// max-size, and the newest lines stay readable.
func TestLogs_RotationOptions(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "seq 1 5000"}},
		&container.HostConfig{LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10k", "max-file": "3"}}})
	code, _, _ := runToExit(t, c, id)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	logPath := inspect(t, c, id).LogPath
	files, _ := filepath.Glob(logPath + "*")
	if len(files) != 3 {
		t.Fatalf("%d log files, want 3: %v", len(files), files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() > 10_000 {
			t.Fatalf("%s: %v size %d", f, err, st.Size())
		}
	}
	out, _ := logs(t, c, id, client.ContainerLogsOptions{Tail: "2"})
	if out != "4999\n5000\n" {
		t.Fatalf("tail: %q", out)
	}
	// A bad option is refused at create, with Docker's text.
	_, err := c.ContainerCreate(t.Context(), client.ContainerCreateOptions{Config: &container.Config{Image: "busybox", Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"nope": "1"}}}})
	if err == nil || !strings.Contains(err.Error(), "unknown log opt 'nope' for json-file log driver") {
		t.Fatalf("bad log opt: %v", err)
	}
	// The none driver keeps nothing and says so on read.
	id = create(t, c, "", &container.Config{Cmd: []string{"echo", "x"}}, &container.HostConfig{LogConfig: container.LogConfig{Type: "none"}})
	runToExitNoLogs(t, c, id)
	if _, err := c.ContainerLogs(t.Context(), id, client.ContainerLogsOptions{ShowStdout: true}); err == nil || !strings.Contains(err.Error(), "configured logging driver does not support reading") {
		t.Fatalf("logs with none driver: %v", err)
	}
}

func runToExitNoLogs(t *testing.T, c *client.Client, id string) {
	t.Helper()
	wait := c.ContainerWait(t.Context(), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait.Result:
	case err := <-wait.Error:
		t.Fatal(err)
	}
}
