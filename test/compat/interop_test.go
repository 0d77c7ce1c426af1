//go:build compat

package compat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"berth/internal/testutil"
)

// realDocker is a dockerd (Debian's docker.io) started for a test in its
// own network namespace, with no bridge and no iptables rules, on private
// directories.
type realDocker struct {
	host string
	base string
	cmd  *exec.Cmd
}

// dockerd is the prerequisite of the interop tests: Debian's docker.io
// (`make test` installs it through scripts/install-test-deps.sh).
var dockerd = testutil.Prereq{Name: "dockerd (docker.io)", Check: func() bool {
	_, err := exec.LookPath("dockerd")
	return err == nil
}}

func startRealDocker(t *testing.T) *realDocker {
	t.Helper()
	testutil.Require(t, dockerd)
	base, err := os.MkdirTemp("/tmp", "dk-")
	if err != nil {
		t.Fatal(err)
	}
	d := &realDocker{host: "unix://" + filepath.Join(base, "docker.sock"), base: base}
	logf, err := os.Create(filepath.Join(base, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("unshare", "--net", "--", "dockerd", "-H", d.host,
		"--data-root", filepath.Join(base, "data"), "--exec-root", filepath.Join(base, "exec"),
		"--pidfile", filepath.Join(base, "dockerd.pid"), "--iptables=false", "--ip6tables=false",
		"--bridge=none", "--ip-masq=false", "--userland-proxy=false", "--storage-driver=overlay2")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// containerd and its shims run under base: end them, then unmount.
		out, _ := exec.Command("sh", "-c", "grep -l "+base+" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3").Output()
		for _, p := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(p, &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = exec.Command("sh", "-c", "grep ' "+base+"' /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l").Run()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(base, "dockerd.log"))
			t.Logf("dockerd log:\n%s", tail(string(b), 40))
		}
		_ = os.RemoveAll(base)
	})
	for i := 0; i < 300; i++ {
		if exec.Command("docker", "-H", d.host, "version").Run() == nil {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(base, "dockerd.log"))
	t.Fatalf("dockerd did not start:\n%s", tail(string(b), 40))
	return nil
}

// run runs the docker CLI against the real dockerd.
func (d *realDocker) run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"-H", d.host}, args...)...)
	cmd.Env = dockerEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker (real) %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Docker's save format is the interchange: an archive that real Docker's
// `docker save` writes loads into berthd and runs, and one berthd writes
// loads into real Docker and runs there.
func TestInterop_SaveLoadWithRealDocker(t *testing.T) {
	real := startRealDocker(t)
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(rootfs, busyboxTar(t), 0o644); err != nil {
		t.Fatal(err)
	}

	// Docker → berth.
	real.run(t, "import", "--change", `CMD ["echo","from-docker"]`, rootfs, "interop:fromdocker")
	realID := strings.TrimSpace(real.run(t, "image", "inspect", "-f", "{{.Id}}", "interop:fromdocker"))
	fromDocker := filepath.Join(dir, "fromdocker.tar")
	real.run(t, "save", "-o", fromDocker, "interop:fromdocker")
	ok(t, "load", "-i", fromDocker)
	t.Cleanup(func() { docker(t, "rmi", "-f", "interop:fromdocker") })
	if got := strings.TrimSpace(inspect(t, "{{.Id}}", "interop:fromdocker")); got != realID {
		t.Fatalf("image ID changed crossing into berth: docker %s, berth %s", realID, got)
	}
	if out := ok(t, "run", "--rm", "interop:fromdocker"); out != "from-docker\n" {
		t.Fatalf("berth ran the docker-saved image: %q", out)
	}

	// berth → Docker.
	ok(t, "tag", "busybox:latest", "interop:fromberth")
	t.Cleanup(func() { docker(t, "rmi", "interop:fromberth") })
	berthID := strings.TrimSpace(inspect(t, "{{.Id}}", "interop:fromberth"))
	fromBerth := filepath.Join(dir, "fromberth.tar")
	ok(t, "save", "-o", fromBerth, "interop:fromberth")
	real.run(t, "load", "-i", fromBerth)
	if got := strings.TrimSpace(real.run(t, "image", "inspect", "-f", "{{.Id}}", "interop:fromberth")); got != berthID {
		t.Fatalf("image ID changed crossing into docker: berth %s, docker %s", berthID, got)
	}
	if out := real.run(t, "run", "--rm", "--network", "none", "interop:fromberth", "echo", "from-berth"); out != "from-berth\n" {
		t.Fatalf("docker ran the berth-saved image: %q", out)
	}
}
