//go:build compat

package compat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// hostCapBnd is this process's capability bounding set as
// /proc/self/status prints it: what --privileged grants.
func hostCapBnd(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CapBnd:\s+([0-9a-f]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no CapBnd in /proc/self/status")
	}
	return string(m[1])
}

// docker run reference, one option at a time: each option's effect as seen
// from inside the container.
func TestRunOptions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("hostfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(dir, "env")
	if err := os.WriteFile(envFile, []byte("# a comment\nA=1\nB=two words\n\nC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("C", "from-host")
	for _, tc := range []struct {
		name string
		// docker reference for the option.
		ref  string
		args []string
		want string
		code int
	}{
		{"env", "-e KEY=value and -e KEY (taken from the client's environment)",
			[]string{"-e", "X=1", "-e", "C", "busybox", "sh", "-c", "echo $X $C"}, "1 from-host\n", 0},
		{"envfile", "--env-file: KEY=value lines, # comments, a bare KEY from the client",
			[]string{"--env-file", envFile, "-e", "A=override", "busybox", "sh", "-c", `echo "$A|$B|$C"`}, "override|two words|from-host\n", 0},
		{"workdir", "-w: the working directory, created when missing",
			[]string{"-w", "/made/here", "busybox", "pwd"}, "/made/here\n", 0},
		{"user", "-u uid: the user's primary group and the groups listing it (sorted by the kernel)",
			[]string{"-u", "1000", "busybox", "id"}, "uid=1000(user) gid=1000(user) groups=50(staff),1000(user)\n", 0},
		{"usergroup", "-u uid:gid: only the given group",
			[]string{"-u", "1000:1000", "busybox", "id"}, "uid=1000(user) gid=1000(user) groups=1000(user)\n", 0},
		{"username", "-u name",
			[]string{"-u", "nobody", "busybox", "id", "-un"}, "nobody\n", 0},
		{"entrypoint", "--entrypoint replaces the image's entrypoint; the rest is its arguments",
			[]string{"--entrypoint", "echo", "busybox", "hello", "entry"}, "hello entry\n", 0},
		{"hostname", "--hostname sets the UTS hostname",
			[]string{"--hostname", "compat-host", "busybox", "hostname"}, "compat-host\n", 0},
		{"defaulthostname", "the default hostname is the short container ID",
			[]string{"busybox", "sh", "-c", "hostname | grep -qE '^[0-9a-f]{12}$'"}, "", 0},
		{"init", "--init: docker-init runs as PID 1 and forwards signals",
			[]string{"--init", "busybox", "cat", "/proc/1/comm"}, "docker-init\n", 0},
		{"readonly", "--read-only: the root filesystem is read-only",
			[]string{"--read-only", "busybox", "touch", "/x"}, "", 1},
		{"tmpfs", "--tmpfs: a writable tmpfs (rw,nosuid,nodev,noexec) even on a read-only root",
			[]string{"--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c", "touch /scratch/x && grep ' /scratch ' /proc/mounts | cut -d' ' -f1-4"},
			"tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,relatime\n", 0},
		{"bindro", "-v host:ctr:ro: the host file is visible and read-only",
			[]string{"-v", dir + ":/data:ro", "busybox", "sh", "-c", "cat /data/f; touch /data/g 2>/dev/null || echo refused"}, "hostfile\nrefused\n", 0},
		{"bindrw", "-v host:ctr: writes reach the host",
			[]string{"-v", dir + ":/data", "busybox", "sh", "-c", "echo written > /data/w"}, "", 0},
		{"privileged", "--privileged: every capability of the bounding set",
			[]string{"--privileged", "busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"}, hostCapBnd(t) + "\n", 0},
		{"defaultcaps", "the default capability set (Docker's 14 capabilities)",
			[]string{"busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"}, "00000000a80425fb\n", 0},
		{"capdrop", "--cap-drop ALL: no capabilities",
			[]string{"--cap-drop", "ALL", "busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"}, "0000000000000000\n", 0},
		{"capadd", "--cap-add NET_ADMIN on top of the default set",
			[]string{"--cap-add", "NET_ADMIN", "busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"}, "00000000a80435fb\n", 0},
		{"nonewprivs", "--security-opt no-new-privileges",
			[]string{"--security-opt", "no-new-privileges", "busybox", "sh", "-c", "grep NoNewPrivs /proc/self/status | cut -f2"}, "1\n", 0},
		{"newprivs", "without it, no_new_privs is off",
			[]string{"busybox", "sh", "-c", "grep NoNewPrivs /proc/self/status | cut -f2"}, "0\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := docker(t, append([]string{"run", "--rm", "--name", ctrName(t)}, tc.args...)...)
			if r.Code != tc.code || r.Stdout != tc.want {
				t.Fatalf("%s: want exit %d and %q: %s", tc.ref, tc.code, tc.want, r)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(dir, "w")); err != nil || string(b) != "written\n" {
		t.Fatalf("bind mount write: %q %v", b, err)
	}
}

// docker run reference, --init: with docker-init as PID 1 the command is
// its child and gets the signal docker stop sends (a bare sleep as PID 1
// would ignore SIGTERM).
func TestRunInitForwardsSignals(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--init", "--name", name, "busybox", "sleep", "100")
	out := ok(t, "exec", name, "ps", "-o", "pid,comm")
	if !regexp.MustCompile(`(?m)^\s*1\s+docker-init$`).MatchString(out) {
		t.Fatalf("PID 1 is not docker-init:\n%s", out)
	}
	ok(t, "stop", "-t", "30", name)
	// sleep dies of SIGTERM: docker-init exits 128+15.
	if s := inspect(t, "{{.State.ExitCode}}", name); s != "143" {
		t.Fatalf("exit code %s", s)
	}
}

// docker run reference, --restart on-failure:N: restarts a failing
// container at most N times (RestartCount N), then leaves it exited.
func TestRestartOnFailure(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3")
	eventually(t, 30*time.Second, func() (bool, string) {
		s := inspect(t, "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name)
		return s == "exited 3 2", s
	})
	if out := ok(t, "logs", name); out != "run\nrun\nrun\n" {
		t.Fatalf("three runs, logs %q", out)
	}
	if s := inspect(t, "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", name); s != "on-failure:2" {
		t.Fatalf("policy %q", s)
	}
}

// docker run reference, -l: labels are on the container and filter ps.
func TestLabels(t *testing.T) {
	a, b := ctrName(t, "a"), ctrName(t, "b")
	ok(t, "create", "--name", a, "-l", "compat.role=web", "-l", "compat.owner="+t.Name(), "busybox", "true")
	ok(t, "create", "--name", b, "-l", "compat.role=db", "-l", "compat.owner="+t.Name(), "busybox", "true")
	if out := ok(t, "ps", "-a", "--filter", "label=compat.role=web", "--format", "{{.Names}}"); out != a+"\n" {
		t.Fatalf("label=compat.role=web: %q", out)
	}
	out := ok(t, "ps", "-a", "--filter", "label=compat.owner="+t.Name(), "--format", "{{.Names}}")
	if got := strings.Fields(out); len(got) != 2 {
		t.Fatalf("label=compat.owner: %q", out)
	}
	if s := inspect(t, `{{index .Config.Labels "compat.role"}}`, b); s != "db" {
		t.Fatalf("label %q", s)
	}
}
