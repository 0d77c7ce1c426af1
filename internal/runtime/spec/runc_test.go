package spec_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"

	"berth/internal/runtime/spec"
	"berth/internal/testutil"
)

// extractTar unpacks a trusted test tar (the busybox rootfs) into dir.
func extractTar(t *testing.T, data []byte, dir string) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(name, os.FileMode(hdr.Mode)&os.ModePerm); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(name, os.FileMode(hdr.Mode)&os.ModePerm|modeSticky(hdr.Mode)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&os.ModePerm)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		case tar.TypeLink:
			if err := os.Link(filepath.Join(dir, filepath.Clean("/"+hdr.Linkname)), name); err != nil {
				t.Fatal(err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(hdr.Linkname, name); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected tar entry type %c for %s", hdr.Typeflag, hdr.Name)
		}
	}
}

func modeSticky(mode int64) os.FileMode {
	if mode&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}

// runInRunc generates a spec for in (Rootfs is filled), runs it with runc
// and returns its stdout.
func runInRunc(t *testing.T, in spec.Input) string {
	t.Helper()
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	extractTar(t, testutil.BusyboxRootfsTar(t), rootfs)
	in.Rootfs = rootfs
	id := fmt.Sprintf("berth-spec-%d-%s", os.Getpid(), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name()))
	in.ID = id
	in.CgroupsPath = "/" + id
	s, err := spec.Generate(testutil.Context(t), in)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	runcRoot := t.TempDir()
	t.Cleanup(func() {
		if out, err := exec.Command("runc", "--root", runcRoot, "delete", "-f", id).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "does not exist") {
			t.Logf("runc delete %s: %v: %s", id, err, out)
		}
	})
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), "runc", "--root", runcRoot, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("runc run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// lines parses the "key=value" lines the test scripts print.
func lines(out string) map[string]string {
	m := map[string]string{}
	for l := range strings.SplitSeq(out, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			m[k] = v
		}
	}
	return m
}

const probeScript = `
echo "capeff=$(grep CapEff /proc/self/status | sed 's/.*:[[:space:]]*//')"
echo "hostname=$(hostname)"
echo "masked=$(stat -c %t:%T MASKED)"
echo "uid=$(id -u)"
echo "gid=$(id -g)"
if touch /probe 2>/dev/null; then echo "rootfs=rw"; else echo "rootfs=ro"; fi
if touch /data/probe 2>/dev/null; then echo "data=rw"; else echo "data=ro"; fi
if touch /run/probe 2>/dev/null; then echo "run=rw"; else echo "run=ro"; fi
`

func TestGenerate_RuncRunsDockerDefaults(t *testing.T) {
	testutil.Require(t, testutil.Root, testutil.Runc, testutil.Busybox)
	// Docker's default capability set as a CapEff mask (docker run
	// busybox grep CapEff /proc/self/status).
	const dockerDefaultCapEff = "00000000a80425fb"

	// /proc/kcore is masked; kernels without CONFIG_PROC_KCORE have no
	// such file (runc skips it), so check the first masked /proc file the
	// host has.
	masked := ""
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, err := os.Stat(p); err == nil {
			masked = p
			break
		}
	}
	if masked == "" {
		t.Fatal("host has none of /proc/kcore, /proc/keys, /proc/timer_list")
	}
	script := strings.ReplaceAll(probeScript, "MASKED", masked)

	t.Run("defaults as root", func(t *testing.T) {
		out := lines(runInRunc(t, spec.Input{
			Args:       []string{"/bin/sh", "-c", script},
			Config:     &container.Config{},
			HostConfig: &container.HostConfig{},
			Hostname:   "specbox",
		}))
		want := map[string]string{
			"capeff":   dockerDefaultCapEff,
			"hostname": "specbox",
			"masked":   "1:3", // /dev/null bound over it
			"uid":      "0",
			"gid":      "0",
			"rootfs":   "rw",
		}
		for k, v := range want {
			if out[k] != v {
				t.Errorf("%s = %q, want %q (all: %v)", k, out[k], v, out)
			}
		}
	})

	t.Run("read-only rootfs as uid:gid", func(t *testing.T) {
		data := t.TempDir()
		out := lines(runInRunc(t, spec.Input{
			Args:   []string{"/bin/sh", "-c", script},
			Config: &container.Config{User: "1000:50"},
			HostConfig: &container.HostConfig{
				ReadonlyRootfs: true,
				Binds:          []string{data + ":/data:ro"},
				Tmpfs:          map[string]string{"/run": "size=1m,mode=1777"},
			},
			Hostname: "robox",
		}))
		want := map[string]string{
			"capeff":   "0000000000000000", // non-root: no effective caps
			"hostname": "robox",
			"uid":      "1000",
			"gid":      "50",
			"rootfs":   "ro",
			"data":     "ro",
			"run":      "rw",
		}
		for k, v := range want {
			if out[k] != v {
				t.Errorf("%s = %q, want %q (all: %v)", k, out[k], v, out)
			}
		}
	})
	t.Run("privileged", func(t *testing.T) {
		// A privileged container holds every capability this process holds.
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		own := lines(strings.ReplaceAll(string(status), ":\t", "="))["CapEff"]
		out := lines(runInRunc(t, spec.Input{
			Args:       []string{"/bin/sh", "-c", script + `echo "devnull=$(stat -c %t:%T /dev/null)"`},
			Config:     &container.Config{},
			HostConfig: &container.HostConfig{Privileged: true},
			Hostname:   "privbox",
		}))
		if out["capeff"] != own || out["devnull"] != "1:3" || out["hostname"] != "privbox" {
			t.Errorf("capeff %q (want %q), /dev/null %q, hostname %q", out["capeff"], own, out["devnull"], out["hostname"])
		}
	})
}
