//go:build compat

package compat

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

// runDetached runs `docker run -d` with args and returns the container ID.
func runDetached(t *testing.T, args ...string) string {
	t.Helper()
	out := ok(t, append([]string{"run", "-d"}, args...)...)
	if !fullID.MatchString(out) {
		t.Fatalf("docker run -d prints the full ID, got %q", out)
	}
	return strings.TrimSpace(out)
}

// waitLog waits until the container's log holds s.
func waitLog(t *testing.T, name, s string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		r := docker(t, "logs", name)
		return strings.Contains(r.Stdout, s), r.String()
	})
}

// table splits docker's table output into header offsets and rows of
// cells, cut at the header's column starts (the CLI aligns with a
// tabwriter, so every cell starts where its header does).
func table(t *testing.T, out string, headers ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var offs []int
	at := 0
	for _, h := range headers {
		i := strings.Index(lines[0][at:], h)
		if i < 0 {
			t.Fatalf("header %q lacks %q", lines[0], h)
		}
		offs = append(offs, at+i)
		at += i + len(h)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		row := map[string]string{}
		for i, h := range headers {
			end := len(l)
			if i+1 < len(offs) && offs[i+1] < end {
				end = offs[i+1]
			}
			if offs[i] > len(l) {
				row[h] = ""
				continue
			}
			cell := l[offs[i]:end]
			if offs[i] > 0 && l[offs[i]-1] != ' ' {
				t.Fatalf("row %q: column %s does not start at the header's offset %d", l, h, offs[i])
			}
			row[h] = strings.TrimSpace(cell)
		}
		rows = append(rows, row)
	}
	return rows
}

// docker ps reference: the default table (CONTAINER ID, IMAGE, COMMAND,
// CREATED, STATUS, PORTS, NAMES; 12-character IDs; the command quoted and
// cut to 20 characters with "…"), -a, -q, --filter name=/label=, --format
// templates and --no-trunc.
func TestPs(t *testing.T) {
	name := ctrName(t)
	created := ctrName(t, "created")
	id := runDetached(t, "--name", name, "-l", "compat.test="+name, "busybox", "sh", "-c", "sleep 100; echo this-is-long")
	cid := strings.TrimSpace(ok(t, "create", "--name", created, "busybox", "true"))

	if out := ok(t, "ps", "--filter", "name=compat-no-such-container"); out != "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n" {
		t.Fatalf("empty ps table %q", out)
	}

	out := ok(t, "ps", "--filter", "name=^"+name+"$")
	if !regexp.MustCompile(`^CONTAINER ID {3}IMAGE {5}COMMAND {18}CREATED +STATUS +PORTS {5}NAMES\n`).MatchString(out) {
		t.Fatalf("ps header:\n%s", out)
	}
	rows := table(t, out, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
	if len(rows) != 1 {
		t.Fatalf("want one row:\n%s", out)
	}
	want := map[string]string{"CONTAINER ID": id[:12], "IMAGE": "busybox", "COMMAND": `"sh -c 'sleep 100; e…"`, "PORTS": "", "NAMES": name}
	for k, v := range want {
		if rows[0][k] != v {
			t.Fatalf("column %s = %q, want %q\n%s", k, rows[0][k], v, out)
		}
	}
	if !regexp.MustCompile(`^(Less than a second|[0-9]+ seconds?) ago$`).MatchString(rows[0]["CREATED"]) {
		t.Fatalf("CREATED %q", rows[0]["CREATED"])
	}
	if !regexp.MustCompile(`^Up (Less than a second|[0-9]+ seconds?)$`).MatchString(rows[0]["STATUS"]) {
		t.Fatalf("STATUS %q", rows[0]["STATUS"])
	}

	// -q lists running containers only; -a adds the created one.
	if out := ok(t, "ps", "-q", "--filter", "name="+t.Name()); out != id[:12]+"\n" {
		t.Fatalf("ps -q %q", out)
	}
	lines := strings.Fields(ok(t, "ps", "-a", "-q", "--filter", "name="+t.Name()))
	if strings.Join(lines, " ") != cid[:12]+" "+id[:12] {
		t.Fatalf("ps -a -q (newest first) %q", lines)
	}
	if out := ok(t, "ps", "-a", "--filter", "status=created", "--filter", "name="+t.Name(), "--format", "{{.Names}} {{.Status}}"); out != created+" Created\n" {
		t.Fatalf("created container %q", out)
	}

	out = ok(t, "ps", "--filter", "name="+name, "--format", "{{.Names}} {{.Status}}")
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(name) + ` Up (Less than a second|[0-9]+ seconds?)\n$`).MatchString(out) {
		t.Fatalf("ps --format %q", out)
	}
	out = ok(t, "ps", "--filter", "label=compat.test="+name, "--format", `{{.Names}} {{.Label "compat.test"}}`)
	if out != name+" "+name+"\n" {
		t.Fatalf("ps --filter label %q", out)
	}
	if out := ok(t, "ps", "-q", "--filter", "label=compat.test=other"); out != "" {
		t.Fatalf("label filter matched %q", out)
	}

	out = ok(t, "ps", "--no-trunc", "--filter", "name=^"+name+"$")
	rows = table(t, out, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES")
	if len(rows) != 1 || rows[0]["CONTAINER ID"] != id || rows[0]["COMMAND"] != `"sh -c 'sleep 100; echo this-is-long'"` {
		t.Fatalf("ps --no-trunc:\n%s", out)
	}
}

// docker inspect reference: a JSON array of the container's details, Go
// templates with --format, "Error: No such object" for an unknown name.
func TestInspect(t *testing.T) {
	name := ctrName(t)
	id := runDetached(t, "--name", name, "busybox", "sleep", "100")
	var got []struct {
		ID     string `json:"Id"`
		Name   string
		Path   string
		Args   []string
		State  struct{ Status string }
		Config struct{ Image string }
	}
	if err := json.Unmarshal([]byte(ok(t, "inspect", name)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id || got[0].Name != "/"+name || got[0].Path != "sleep" ||
		strings.Join(got[0].Args, " ") != "100" || got[0].State.Status != "running" || got[0].Config.Image != "busybox" {
		t.Fatalf("inspect: %+v", got)
	}
	if s := inspect(t, "{{.State.Status}} {{.State.ExitCode}}", name); s != "running 0" {
		t.Fatalf("state %q", s)
	}
	ok(t, "stop", "-t", "0", name)
	if s := inspect(t, "{{.State.Status}} {{.State.ExitCode}}", name); s != "exited 137" {
		t.Fatalf("state after stop %q", s)
	}
	r := docker(t, "inspect", "compat-no-such-thing")
	expect(t, r, 1, "Error: No such object: compat-no-such-thing")
	if r.Stdout != "[]\n" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	r = docker(t, "container", "inspect", "compat-no-such-thing")
	expect(t, r, 1, "No such container: compat-no-such-thing")
}

// docker logs reference: stdout and stderr keep their streams; --tail N
// shows the last N lines; -t prefixes RFC 3339 timestamps with nine
// fractional digits; --since drops earlier lines; -f follows until the
// container stops.
func TestLogs(t *testing.T) {
	name := ctrName(t)
	// stdout and stderr are separate pipes: their relative order is only
	// kept across a pause.
	runDetached(t, "--name", name, "busybox", "sh", "-c", "echo oops >&2; sleep 0.5; for i in 1 2 3 4 5; do echo line$i; done; sleep 1.5; echo late")
	ok(t, "wait", name)

	r := docker(t, "logs", name)
	if r.Code != 0 || r.Stdout != "line1\nline2\nline3\nline4\nline5\nlate\n" || r.Stderr != "oops\n" {
		t.Fatalf("logs: %s", r)
	}
	if r := docker(t, "logs", "--tail", "2", name); r.Code != 0 || r.Stdout != "line5\nlate\n" || r.Stderr != "" {
		t.Fatalf("logs --tail 2: %s", r)
	}
	if r := docker(t, "logs", "--tail", "7", name); r.Code != 0 || r.Stdout != "line1\nline2\nline3\nline4\nline5\nlate\n" || r.Stderr != "oops\n" {
		t.Fatalf("logs --tail 7 (every line): %s", r)
	}
	if r := docker(t, "logs", "--tail", "0", name); r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
		t.Fatalf("logs --tail 0: %s", r)
	}
	out := ok(t, "logs", "-t", "--tail", "1", name)
	m := regexp.MustCompile(`^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z) late\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("logs -t %q", out)
	}
	late, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		t.Fatal(err)
	}
	since := late.Add(-500 * time.Millisecond).Format(time.RFC3339Nano)
	if r := docker(t, "logs", "--since", since, name); r.Code != 0 || r.Stdout != "late\n" || r.Stderr != "" {
		t.Fatalf("logs --since %s: %s", since, r)
	}

	follow := ctrName(t, "follow")
	runDetached(t, "--name", follow, "busybox", "sh", "-c", "echo a; sleep 1; echo b")
	if r := docker(t, "logs", "-f", follow); r.Code != 0 || r.Stdout != "a\nb\n" {
		t.Fatalf("logs -f: %s", r)
	}
	if s := inspect(t, "{{.State.Status}}", follow); s != "exited" {
		t.Fatalf("logs -f returned while the container is %s", s)
	}
}

// docker wait reference: blocks until the container stops and prints its
// exit code.
func TestWait(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sh", "-c", "sleep 0.5; exit 5")
	if out := ok(t, "wait", name); out != "5\n" {
		t.Fatalf("wait %q", out)
	}
	if out := ok(t, "wait", name); out != "5\n" {
		t.Fatalf("wait on an exited container %q", out)
	}
	// docker ps reference: an exited container's status is "Exited (code) … ago".
	out := ok(t, "ps", "-a", "--filter", "name=^"+name+"$", "--format", "{{.Status}}")
	if !regexp.MustCompile(`^Exited \(5\) (Less than a second|[0-9]+ seconds?) ago\n$`).MatchString(out) {
		t.Fatalf("exited status %q", out)
	}
}

// trapper is a shell that prints "ready" once its traps are set and exits
// 5 on SIGUSR1, 6 on SIGHUP, 7 on SIGUSR2.
var trapper = []string{"busybox", "sh", "-c", `trap "exit 5" USR1; trap "exit 6" HUP; trap "exit 7" USR2; echo ready; while true; do sleep 0.1; done`}

// docker stop reference: SIGTERM (or the image's/--stop-signal's signal,
// or --signal), then SIGKILL after -t seconds; prints the name it was
// given. A PID 1 without a handler ignores SIGTERM, so it is killed: 137.
func TestStop(t *testing.T) {
	plain := ctrName(t, "plain")
	runDetached(t, "--name", plain, "busybox", "sleep", "100")
	if out := ok(t, "stop", "-t", "1", plain); out != plain+"\n" {
		t.Fatalf("stop prints %q", out)
	}
	if s := inspect(t, "{{.State.Status}} {{.State.ExitCode}}", plain); s != "exited 137" {
		t.Fatalf("after stop -t 1: %q", s)
	}

	custom := ctrName(t, "stopsignal")
	runDetached(t, append([]string{"--name", custom, "--stop-signal", "USR1"}, trapper...)...)
	waitLog(t, custom, "ready")
	ok(t, "stop", custom)
	if s := inspect(t, "{{.Config.StopSignal}} {{.State.ExitCode}}", custom); s != "USR1 5" {
		t.Fatalf("--stop-signal USR1: %q", s)
	}

	flag := ctrName(t, "signal")
	runDetached(t, append([]string{"--name", flag}, trapper...)...)
	waitLog(t, flag, "ready")
	ok(t, "stop", "--signal", "HUP", "-t", "5", flag)
	if s := inspect(t, "{{.State.ExitCode}}", flag); s != "6" {
		t.Fatalf("stop --signal HUP: %q", s)
	}
	// Stopping a stopped container succeeds and prints its name.
	if out := ok(t, "stop", flag); out != flag+"\n" {
		t.Fatalf("second stop %q", out)
	}
}

// docker kill reference: SIGKILL by default (exit 137), -s sends the named
// signal; killing a stopped container is an error.
func TestKill(t *testing.T) {
	name := ctrName(t)
	runDetached(t, append([]string{"--name", name}, trapper...)...)
	waitLog(t, name, "ready")
	if out := ok(t, "kill", "-s", "USR2", name); out != name+"\n" {
		t.Fatalf("kill prints %q", out)
	}
	if out := ok(t, "wait", name); out != "7\n" {
		t.Fatalf("exit after SIGUSR2 %q", out)
	}
	expect(t, docker(t, "kill", name), 1, "is not running")

	ok(t, "start", name)
	ok(t, "kill", name)
	if out := ok(t, "wait", name); out != "137\n" {
		t.Fatalf("exit after kill %q", out)
	}
}

// docker restart reference: stops (SIGTERM, SIGKILL after -t) and starts
// again: a new process, a new StartedAt, RestartCount unchanged (it counts
// policy restarts only).
func TestRestart(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	before := inspect(t, "{{.State.Pid}} {{.State.StartedAt}}", name)
	if out := ok(t, "restart", "-t", "0", name); out != name+"\n" {
		t.Fatalf("restart prints %q", out)
	}
	after := inspect(t, "{{.State.Pid}} {{.State.StartedAt}}", name)
	bf, af := strings.Fields(before), strings.Fields(after)
	if bf[0] == af[0] || bf[1] == af[1] {
		t.Fatalf("restart kept the process: before %q after %q", before, after)
	}
	if s := inspect(t, "{{.State.Status}} {{.RestartCount}}", name); s != "running 0" {
		t.Fatalf("after restart %q", s)
	}
}

// docker rm reference: a running container is refused without -f (409,
// "cannot remove container ... container is running"); rm -f kills and
// removes it and prints the name.
func TestRemove(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	r := docker(t, "rm", name)
	expect(t, r, 1, `Error response from daemon: cannot remove container "/`+name+`": container is running: stop the container before removing or force remove`)
	if out := ok(t, "rm", "-f", name); out != name+"\n" {
		t.Fatalf("rm -f prints %q", out)
	}
	expect(t, docker(t, "container", "inspect", name), 1, "No such container: "+name)
	expect(t, docker(t, "rm", name), 1, "Error response from daemon: No such container: "+name)
}

// docker rename reference: the new name resolves, the old one does not; a
// name in use is a conflict.
func TestRename(t *testing.T) {
	old, renamed, other := ctrName(t, "old"), ctrName(t, "new"), ctrName(t, "other")
	runDetached(t, "--name", old, "busybox", "sleep", "100")
	otherID := strings.TrimSpace(ok(t, "create", "--name", other, "busybox", "true"))
	if out := ok(t, "rename", old, renamed); out != "" {
		t.Fatalf("rename prints %q", out)
	}
	if s := inspect(t, "{{.Name}} {{.State.Status}}", renamed); s != "/"+renamed+" running" {
		t.Fatalf("renamed %q", s)
	}
	expect(t, docker(t, "container", "inspect", old), 1, "No such container: "+old)
	expect(t, docker(t, "rename", renamed, other), 1, `Conflict. The container name "/`+other+`" is already in use by container "`+otherID+`"`)
}

// docker top reference: ps -ef columns (UID PID PPID C STIME TTY TIME CMD)
// for the container's processes; a stopped container is an error.
func TestTop(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	out := ok(t, "top", name)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "UID PID PPID C STIME TTY TIME CMD" {
		t.Fatalf("top:\n%s", out)
	}
	pid := inspect(t, "{{.State.Pid}}", name)
	f := strings.Fields(lines[1])
	if f[0] != "root" || f[1] != pid || strings.Join(f[7:], " ") != "sleep 100" {
		t.Fatalf("top row %q (pid %s)", lines[1], pid)
	}
	ok(t, "kill", name)
	expect(t, docker(t, "top", name), 1, "is not running")
}

// docker exec reference: -e, -u, -w apply to the new process; docker exec
// exits with the process's code, 126 when it cannot be started (the
// runtime's message on stdout); exec in a stopped container fails.
func TestExec(t *testing.T) {
	name := ctrName(t)
	id := runDetached(t, "--name", name, "-e", "FROMRUN=1", "busybox", "sleep", "100")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "FOO=bar", name, "sh", "-c", "echo $FOO $FROMRUN"}, "bar 1\n"},
		// The kernel sorts supplementary groups: 50 before 1000.
		{[]string{"-u", "1000", name, "id"}, "uid=1000(user) gid=1000(user) groups=50(staff),1000(user)\n"},
		{[]string{"-w", "/tmp", name, "pwd"}, "/tmp\n"},
		{[]string{name, "id", "-u"}, "0\n"},
	} {
		if out := ok(t, append([]string{"exec"}, tc.args...)...); out != tc.want {
			t.Fatalf("exec %q: %q, want %q", tc.args, out, tc.want)
		}
	}
	r := docker(t, "exec", name, "sh", "-c", "echo out; echo err >&2; exit 7")
	if r.Code != 7 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Fatalf("exec exit 7: %s", r)
	}
	r = dockerIn(t, strings.NewReader("piped\n"), "exec", "-i", name, "cat")
	if r.Code != 0 || r.Stdout != "piped\n" {
		t.Fatalf("exec -i: %s", r)
	}
	r = docker(t, "exec", name, "compat-nonexistent")
	if r.Code != 126 || !strings.Contains(r.Stdout, `OCI runtime exec failed: exec failed: unable to start container process: exec: "compat-nonexistent": executable file not found in $PATH`) {
		t.Fatalf("exec of a missing command: %s", r)
	}
	ok(t, "stop", "-t", "0", name)
	expect(t, docker(t, "exec", name, "true"), 1, "Error response from daemon: container "+id+" is not running")
}

// docker attach reference: attaches stdin (for a container run with -i),
// stdout and stderr of the running container and exits with its exit code;
// a stopped container cannot be attached.
func TestAttach(t *testing.T) {
	in := ctrName(t, "stdin")
	runDetached(t, "-i", "--name", in, "busybox", "sh", "-c", "read x; echo got-$x; echo to-err >&2; exit 4")
	waitRunning(t, in)
	r := dockerIn(t, strings.NewReader("hello\n"), "attach", in)
	if r.Code != 4 || r.Stdout != "got-hello\n" || r.Stderr != "to-err\n" {
		t.Fatalf("attach: %s", r)
	}
	expect(t, docker(t, "attach", in), 1, "You cannot attach to a stopped container, start it first")
}

// docker CLI reference: every container command names an unknown
// container with the daemon's 404 text, "No such container: NAME", and
// exits 1.
func TestUnknownContainer(t *testing.T) {
	const name = "compat-no-such-container"
	for _, args := range [][]string{
		{"stop", name}, {"start", name}, {"kill", name}, {"restart", name}, {"logs", name},
		{"wait", name}, {"rm", name}, {"top", name}, {"pause", name}, {"unpause", name},
		{"port", name}, {"exec", name, "true"}, {"attach", name}, {"rename", name, name + "-2"},
		{"container", "inspect", name},
	} {
		r := docker(t, args...)
		expect(t, r, 1, "No such container: "+name)
		if !strings.HasPrefix(r.Stderr, "Error") {
			t.Fatalf("stderr: %s", r)
		}
	}
}
