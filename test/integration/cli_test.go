//go:build integration

package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"berth/internal/testutil"
)

var fullID = regexp.MustCompile(`^[0-9a-f]{64}\n$`)

func TestCLI_RunAttached(t *testing.T) {
	n := cliName(t, "")
	removeContainers(t, n)
	r := berth(t, nil, "run", "--rm", "--name", n, "busybox", "sh", "-c", "echo out; echo err >&2")
	expectResult(t, "run --rm", r, 0, "out\n", "err\n")
	// --rm: gone once run returns.
	r = berth(t, nil, "ps", "-a", "-q", "--filter", "name=^"+n+"$")
	expectResult(t, "ps after --rm", r, 0, "", "")

	// Without -i, piped stdin is not forwarded.
	r = berth(t, strings.NewReader("ignored\n"), "run", "--rm", "busybox", "cat")
	expectResult(t, "run without -i", r, 0, "", "")
	r = berth(t, strings.NewReader("hello\nworld\n"), "run", "--rm", "-i", "busybox", "cat")
	expectResult(t, "run -i", r, 0, "hello\nworld\n", "")
}

func TestCLI_RunExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"own", []string{"run", "--rm", "busybox", "sh", "-c", "exit 3"}, 3, nil},
		{"notfound", []string{"run", "--rm", "busybox", "nosuchcmd"}, 127,
			[]string{`berth: Error response from daemon: `, `exec: "nosuchcmd": executable file not found in $PATH`, "\n\nRun 'berth run --help' for more information\n"}},
		{"cannotexec", []string{"run", "--rm", "busybox", "/etc"}, 126,
			[]string{`exec: "/etc": permission denied`, "Run 'berth run --help' for more information\n"}},
		{"badflag", []string{"run", "--bogus", "busybox"}, 125,
			[]string{"unknown flag: --bogus\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n"}},
		{"badvalue", []string{"run", "-m", "bogus", "busybox", "true"}, 125,
			[]string{"invalid argument \"bogus\" for \"-m, --memory\" flag: invalid size: 'bogus'\n\nUsage:  berth run"}},
		{"noimage", []string{"run", "--rm", "nosuchimage:v1"}, 125,
			[]string{"Unable to find image 'nosuchimage:v1' locally\nberth: Error response from daemon: ", "Run 'berth run --help' for more information\n"}},
		{"noargs", []string{"run"}, 1,
			[]string{"berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n"}},
		{"notty", []string{"run", "--rm", "-it", "busybox", "true"}, 1, []string{"the input device is not a TTY\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := berth(t, nil, tc.args...)
			if r.Code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.Code, tc.code, r.Stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(r.Stderr, s) {
					t.Errorf("stderr %q lacks %q", r.Stderr, s)
				}
			}
		})
	}
	t.Run("killed", func(t *testing.T) {
		n := cliName(t, "")
		removeContainers(t, n)
		s := startBerth(t, false, "run", "--name", n, "busybox", "sh", "-c", "echo ready; sleep 30")
		s.expect("ready\n")
		expectResult(t, "kill", berth(t, nil, "kill", n), 0, n+"\n", "")
		if code, out := s.wait(); code != 137 || out != "ready\n" {
			t.Errorf("run killed: exit %d output %q, want 137", code, out)
		}
	})
}

func TestCLI_RunTTY(t *testing.T) {
	s := startBerth(t, true, "run", "--rm", "-it", "busybox", "sh")
	s.expect("# ")
	s.send("tty; echo sum=$((40+2))\n")
	s.expect("sum=42")
	s.send("exit 5\n")
	code, out := s.wait()
	if code != 5 {
		t.Errorf("exit %d, want 5; output %q", code, out)
	}
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("no terminal in the container: %q", out)
	}
}

func TestCLI_ContainerLifecycle(t *testing.T) {
	n, n2 := cliName(t, ""), cliName(t, "renamed")
	removeContainers(t, n, n2)
	id := mustBerth(t, "run", "-d", "--name", n, "busybox", "sleep", "300")
	if !fullID.MatchString(id) {
		t.Fatalf("run -d printed %q", id)
	}
	id = strings.TrimSpace(id)

	out := mustBerth(t, "ps", "--filter", "name=^"+n+"$")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE     COMMAND       CREATED") ||
		!strings.HasPrefix(lines[1], id[:12]+"   busybox   \"sleep 300\"   ") || !strings.HasSuffix(lines[1], "   "+n) {
		t.Errorf("ps table:\n%s", out)
	}
	expectResult(t, "ps --format", berth(t, nil, "ps", "--filter", "id="+id, "--format", "{{.Names}} {{.State}} {{.Command}}"),
		0, n+" running \"sleep 300\"\n", "")
	expectResult(t, "ps -q --no-trunc", berth(t, nil, "ps", "-q", "--no-trunc", "--filter", "id="+id), 0, id+"\n", "")
	out = mustBerth(t, "ps", "--filter", "id="+id, "--format", "json")
	var row map[string]any
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["Names"] != n || row["ID"] != id[:12] || row["State"] != "running" {
		t.Errorf("ps --format json: %q (%v)", out, err)
	}

	expectResult(t, "inspect -f", berth(t, nil, "inspect", "-f", "{{.Name}} {{.State.Running}} {{.Id}}", n), 0, "/"+n+" true "+id+"\n", "")
	out = mustBerth(t, "container", "inspect", n)
	var ins []map[string]any
	if err := json.Unmarshal([]byte(out), &ins); err != nil || len(ins) != 1 || ins[0]["Id"] != id || !strings.HasPrefix(out, "[\n    {\n") {
		t.Errorf("inspect: %v %.200q", err, out)
	}

	out = mustBerth(t, "top", n)
	if !strings.HasPrefix(out, "UID ") || !strings.Contains(out, "sleep 300") {
		t.Errorf("top:\n%s", out)
	}
	expectResult(t, "port", berth(t, nil, "port", n), 0, "", "")
	expectResult(t, "port 80", berth(t, nil, "port", n, "80"), 1, "", "Error: No public port '80' published for "+n+"\n")

	expectResult(t, "rename", berth(t, nil, "rename", n, n2), 0, "", "")
	expectResult(t, "rename missing", berth(t, nil, "rename", n, n2+"x"), 1, "",
		"Error response from daemon: No such container: "+n+"\nError: failed to rename container named "+n+"\n")

	// sleep as PID 1 ignores SIGTERM: stop kills it after the timeout.
	expectResult(t, "stop", berth(t, nil, "stop", "-t", "1", n2), 0, n2+"\n", "")
	expectResult(t, "wait", berth(t, nil, "wait", n2), 0, "137\n", "")
	expectResult(t, "inspect exit", berth(t, nil, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n2), 0, "exited 137\n", "")
	expectResult(t, "start", berth(t, nil, "start", n2), 0, n2+"\n", "")
	expectResult(t, "restart", berth(t, nil, "restart", "-t", "0", n2), 0, n2+"\n", "")
	expectResult(t, "kill", berth(t, nil, "kill", "-s", "KILL", n2), 0, n2+"\n", "")
	expectResult(t, "wait after kill", berth(t, nil, "wait", n2), 0, "137\n", "")
	r := berth(t, nil, "kill", n2)
	if r.Code != 1 || !strings.Contains(r.Stderr, "is not running") {
		t.Errorf("kill stopped container: %+v", r)
	}
	expectResult(t, "rm", berth(t, nil, "rm", n2), 0, n2+"\n", "")

	for _, verb := range []string{"start", "stop", "kill", "restart", "rm", "wait", "logs", "top", "port", "attach"} {
		r := berth(t, nil, verb, n+"-missing")
		want := "Error response from daemon: No such container: " + n + "-missing\n"
		if verb == "start" {
			want += "Error: failed to start containers: " + n + "-missing\n"
		}
		expectResult(t, verb+" missing", r, 1, "", want)
	}
}

func TestCLI_StartAttach(t *testing.T) {
	n, ni := cliName(t, ""), cliName(t, "i")
	removeContainers(t, n, ni)
	mustBerth(t, "create", "--name", n, "busybox", "sh", "-c", "echo out; echo err >&2; exit 7")
	expectResult(t, "start -a", berth(t, nil, "start", "-a", n), 7, "out\n", "err\n")
	expectResult(t, "start -a again", berth(t, nil, "start", "-a", n), 7, "out\n", "err\n")

	mustBerth(t, "create", "-i", "--name", ni, "busybox", "sh", "-c", "read l; echo got $l")
	expectResult(t, "start -ai", berth(t, strings.NewReader("line1\n"), "start", "-ai", ni), 0, "got line1\n", "")
	expectResult(t, "logs", berth(t, nil, "logs", n), 0, "out\nout\n", "err\nerr\n")
}

func TestCLI_LogsFollow(t *testing.T) {
	n := cliName(t, "")
	removeContainers(t, n)
	mustBerth(t, "run", "-d", "--name", n, "busybox", "sh", "-c",
		"echo one; echo err >&2; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two")
	s := startBerth(t, false, "logs", "-f", n)
	s.expect("one\n")
	s.expect("err\n")
	// The container goes on only now, so "two" reaches logs -f while it
	// follows; it ends when the container exits.
	mustBerth(t, "exec", n, "touch", "/tmp/go")
	code, out := s.wait()
	// Stdout and stderr are merged here, so only the order within a
	// stream is fixed.
	if code != 0 || !strings.HasSuffix(out, "two\n") || len(out) != len("one\nerr\ntwo\n") {
		t.Errorf("logs -f: exit %d output %q", code, out)
	}
	expectResult(t, "logs --tail 1", berth(t, nil, "logs", "--tail", "1", n), 0, "two\n", "")
	expectResult(t, "logs split", berth(t, nil, "logs", n), 0, "one\ntwo\n", "err\n")
}

func TestCLI_Exec(t *testing.T) {
	n := cliName(t, "")
	removeContainers(t, n)
	mustBerth(t, "run", "-d", "--name", n, "busybox", "sleep", "300")
	expectResult(t, "exec", berth(t, nil, "exec", n, "sh", "-c", "echo out; echo err >&2"), 0, "out\n", "err\n")
	expectResult(t, "exec -e -w", berth(t, nil, "exec", "-e", "FOO=bar", "-w", "/tmp", n, "sh", "-c", "echo $FOO $(pwd)"), 0, "bar /tmp\n", "")
	expectResult(t, "exec -i", berth(t, strings.NewReader("piped\n"), "exec", "-i", n, "cat"), 0, "piped\n", "")
	// The exit code of an attached exec is recorded before its stream ends.
	r := berth(t, nil, "exec", n, "sh", "-c", "exit 4")
	if r.Code != 4 {
		t.Errorf("exec exit 4: got %d", r.Code)
	}
	r = berth(t, nil, "exec", n, "nosuchcmd")
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, `exec: "nosuchcmd": executable file not found`) {
		t.Errorf("exec missing command: %+v", r)
	}
	expectResult(t, "exec -it without tty", berth(t, nil, "exec", "-it", n, "sh"), 1, "", "the input device is not a TTY\n")
	expectResult(t, "exec -d", berth(t, nil, "exec", "-d", n, "sh", "-c", "echo bg > /tmp/bg"), 0, "", "")
	expectResult(t, "exec -e bad", berth(t, nil, "exec", "-e", "=x", n, "true"), 125, "",
		"invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x\n\nUsage:  berth exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nRun 'berth exec --help' for more information\n")

	s := startBerth(t, true, "exec", "-it", n, "sh")
	s.expect("# ")
	s.send("tty; echo exec=$((6*7))\n")
	s.expect("exec=42")
	s.send("exit 3\n")
	code, out := s.wait()
	if code != 3 || !strings.Contains(out, "/dev/pts/") {
		t.Errorf("exec -it: exit %d, output %q", code, out)
	}
}

func TestCLI_Attach(t *testing.T) {
	n, nt := cliName(t, ""), cliName(t, "tty")
	removeContainers(t, n, nt)
	mustBerth(t, "run", "-di", "--name", n, "busybox", "sh", "-c", "read l; echo got $l; echo err >&2; exit 3")
	expectResult(t, "attach", berth(t, strings.NewReader("hello\n"), "attach", n), 3, "got hello\n", "err\n")
	expectResult(t, "attach stopped", berth(t, nil, "attach", n), 1, "", "You cannot attach to a stopped container, start it first\n")

	mustBerth(t, "run", "-dit", "--name", nt, "busybox", "sh")
	s := startBerth(t, true, "attach", nt)
	s.send("echo attached=$((1+1))\n")
	s.expect("attached=2")
	s.send("\x10\x11") // ctrl-p ctrl-q
	code, out := s.wait()
	if code != 1 || !strings.Contains(out, "read escape sequence") {
		t.Errorf("attach detach: exit %d output %q", code, out)
	}
	expectResult(t, "still running after detach", berth(t, nil, "inspect", "-f", "{{.State.Running}}", nt), 0, "true\n", "")
	// Detaching from `run -it` (StdinOnce, as docker sets it) leaves a
	// terminal container running: its stdin is not closed.
	nr := cliName(t, "run")
	removeContainers(t, nr)
	s = startBerth(t, true, "run", "-it", "--name", nr, "busybox", "sh")
	s.expect("# ")
	s.send("\x10\x11")
	if code, out := s.wait(); code != 0 {
		t.Errorf("run -it detach: exit %d output %q", code, out)
	}
	expectResult(t, "running after run -it detach", berth(t, nil, "inspect", "-f", "{{.State.Running}}", nr), 0, "true\n", "")
}

func TestCLI_Images(t *testing.T) {
	tag := cliName(t, "") + ":v1"
	removeImages(t, tag)
	out := mustBerth(t, "images")
	if !strings.HasPrefix(out, "REPOSITORY   TAG       IMAGE ID       CREATED") || !regexp.MustCompile(`\nbusybox\s+latest\s+[0-9a-f]{12}\s`).MatchString(out) {
		t.Errorf("images:\n%s", out)
	}
	id := strings.TrimSpace(mustBerth(t, "inspect", "-f", "{{.ID}}", "busybox"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("image id %q", id)
	}
	expectResult(t, "images --format", berth(t, nil, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "busybox"),
		0, "busybox:latest "+id[7:19]+"\n", "")
	expectResult(t, "images -q", berth(t, nil, "images", "-q", "busybox"), 0, id[7:19]+"\n", "")
	expectResult(t, "tag", berth(t, nil, "tag", "busybox", tag), 0, "", "")
	expectResult(t, "image ls ref", berth(t, nil, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", tag), 0, tag+"\n", "")
	out = mustBerth(t, "images", "--format", "json", tag)
	var row map[string]any
	if err := json.Unmarshal([]byte(out), &row); err != nil || row["Tag"] != "v1" || row["ID"] != id[7:19] {
		t.Errorf("images json: %q %v", out, err)
	}
	// The raw JSON fallback of --format: .Id is the API's field name; a
	// missing key is an error there, as in docker.
	expectResult(t, "inspect raw field", berth(t, nil, "image", "inspect", "-f", "{{.Id}}", tag), 0, id+"\n", "")
	r := berth(t, nil, "inspect", "-f", "{{.Nope.Cmd}} {{.Id}}", tag)
	if r.Code != 1 || r.Stdout != "\n" || !strings.Contains(r.Stderr, `map has no entry for key "Nope"`) {
		t.Errorf("inspect missing key: %+v", r)
	}
	out = mustBerth(t, "history", "busybox")
	if !strings.HasPrefix(out, "IMAGE          CREATED") || !strings.Contains(out, id[7:19]) {
		t.Errorf("history:\n%s", out)
	}
	expectResult(t, "rmi", berth(t, nil, "rmi", tag), 0, "Untagged: "+tag+"\n", "")
	expectResult(t, "inspect missing", berth(t, nil, "inspect", tag), 1, "[]\n", "Error: No such object: "+tag+"\n")
}

func TestCLI_SaveLoadImport(t *testing.T) {
	tag := cliName(t, "") + ":v1"
	imported := cliName(t, "imported") + ":latest"
	removeImages(t, tag, imported)
	dir := t.TempDir()
	mustBerth(t, "tag", "busybox", tag)

	// save -o, and save to stdout.
	file := filepath.Join(dir, "img.tar")
	expectResult(t, "save -o", berth(t, nil, "save", "-o", file, tag), 0, "", "")
	onStdout := mustBerth(t, "save", tag)
	fileBytes, err := os.ReadFile(file)
	if err != nil || len(fileBytes) < 1024 || len(onStdout) < 1024 {
		t.Fatalf("saved %d bytes to the file (%v), %d to stdout", len(fileBytes), err, len(onStdout))
	}

	mustBerth(t, "rmi", tag)
	expectResult(t, "load -i", berth(t, nil, "load", "-i", file), 0, "Loaded image: "+tag+"\n", "")
	mustBerth(t, "rmi", tag)
	expectResult(t, "load stdin", berth(t, bytes.NewReader([]byte(onStdout)), "load"), 0, "Loaded image: "+tag+"\n", "")
	expectResult(t, "load stdin again", berth(t, bytes.NewReader(fileBytes), "load"), 0, "Loaded image: "+tag+"\n", "")

	// import from stdin, with a change; then run the imported image.
	bb, err := os.ReadFile(testutil.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := testutil.BusyboxTar(bb)
	if err != nil {
		t.Fatal(err)
	}
	r := berth(t, bytes.NewReader(rootfs), "import", "-c", `CMD ["echo", "from import"]`, "-m", "imported here", "-", imported)
	if r.Code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.Stdout) {
		t.Fatalf("import: %+v", r)
	}
	expectResult(t, "run imported", berth(t, nil, "run", "--rm", imported), 0, "from import\n", "")
	expectResult(t, "history comment", berth(t, nil, "history", "--format", "{{.Comment}}", imported), 0, "imported here\n", "")

	// import from a file.
	tarFile := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(tarFile, rootfs, 0o644); err != nil {
		t.Fatal(err)
	}
	r = berth(t, nil, "import", tarFile, imported)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Fatalf("import file: %+v", r)
	}
	expectResult(t, "run imported file", berth(t, nil, "run", "--rm", imported, "echo", "ok"), 0, "ok\n", "")
	expectResult(t, "load missing file", berth(t, nil, "load", "-i", filepath.Join(dir, "nope.tar")), 1, "",
		"open "+filepath.Join(dir, "nope.tar")+": no such file or directory\n")
}

func TestCLI_Events(t *testing.T) {
	n := cliName(t, "")
	removeContainers(t, n)
	since := time.Now().Add(-time.Second).Format(time.RFC3339Nano)
	mustBerth(t, "run", "--rm", "--name", n, "busybox", "true")
	until := time.Now().Add(time.Second).Format(time.RFC3339Nano)
	r := berth(t, nil, "events", "--since", since, "--until", until, "--filter", "container="+n, "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
	want := "container create " + n + "\ncontainer attach " + n + "\ncontainer start " + n + "\ncontainer die " + n + "\ncontainer destroy " + n + "\n"
	if r.Code != 0 {
		t.Fatalf("events: %+v", r)
	}
	// docker's run attaches before it starts; accept the events in order
	// with or without the attach event.
	if r.Stdout != want && r.Stdout != strings.Replace(want, "container attach "+n+"\n", "", 1) {
		t.Errorf("events:\n%s\nwant\n%s", r.Stdout, want)
	}
	out := mustBerth(t, "events", "--since", since, "--until", until, "--filter", "container="+n, "--filter", "event=die", "--format", "json")
	var ev map[string]any
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev["Action"] != "die" {
		t.Errorf("events json: %q %v", out, err)
	}
	out = mustBerth(t, "events", "--since", since, "--until", until, "--filter", "container="+n, "--filter", "event=start")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT[\d:.]+Z container start [0-9a-f]{64} \(.*name=` + n + `.*\)\n$`).MatchString(out) {
		t.Errorf("events default format: %q", out)
	}
}

func TestCLI_SystemDf(t *testing.T) {
	out := mustBerth(t, "system", "df")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || !regexp.MustCompile(`^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "Images ") || !strings.HasPrefix(lines[2], "Containers ") ||
		!strings.HasPrefix(lines[3], "Local Volumes ") || !strings.HasPrefix(lines[4], "Build Cache ") {
		t.Errorf("system df:\n%s", out)
	}
	out = mustBerth(t, "system", "df", "--format", "json")
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["Type"] == "" || m["TotalCount"] == "" {
			t.Errorf("df json line %q: %v", l, err)
		}
	}
	out = mustBerth(t, "system", "df", "-v")
	for _, s := range []string{"Images space usage:\n\nREPOSITORY", "\nContainers space usage:\n\nCONTAINER ID", "\nLocal Volumes space usage:\n\nVOLUME NAME", "\nBuild cache usage: "} {
		if !strings.Contains(out, s) {
			t.Errorf("df -v lacks %q:\n%s", s, out)
		}
	}
}

func TestCLI_Prune(t *testing.T) {
	n, keep := cliName(t, ""), cliName(t, "running")
	removeContainers(t, n, keep)
	label := "berth.test=" + cliName(t, "")
	id := strings.TrimSpace(mustBerth(t, "create", "--label", label, "--name", n, "busybox", "true"))
	mustBerth(t, "run", "-d", "--label", label, "--name", keep, "busybox", "sleep", "300")

	expectResult(t, "container prune --dry-run", berth(t, nil, "container", "prune", "--dry-run", "--filter", "label="+label),
		0, "Would delete Containers:\n"+id+"\n\nTotal reclaimable space: 0B\n", "")
	out := mustBerth(t, "system", "prune", "--dry-run", "--filter", "label="+label)
	if !strings.HasPrefix(out, "Would delete Containers:\n"+id+"\n\n") || !strings.HasSuffix(out, "Total reclaimable space: 0B\n") {
		t.Errorf("system prune --dry-run:\n%s", out)
	}
	expectResult(t, "still there", berth(t, nil, "inspect", "-f", "{{.State.Status}}", n), 0, "created\n", "")

	// Declining the prompt removes nothing.
	r := berth(t, strings.NewReader("n\n"), "container", "prune", "--filter", "label="+label)
	expectResult(t, "prune declined", r, 0, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ", "")
	expectResult(t, "still there after no", berth(t, nil, "inspect", "-f", "{{.State.Status}}", n), 0, "created\n", "")

	expectResult(t, "container prune -f", berth(t, nil, "container", "prune", "-f", "--filter", "label="+label),
		0, "Deleted Containers:\n"+id+"\n\nTotal reclaimed space: 0B\n", "")
	expectResult(t, "pruned", berth(t, nil, "ps", "-aq", "--filter", "label="+label, "--format", "{{.Names}}"), 0, keep+"\n", "")

	// A dangling image: imported without a name.
	bb, err := os.ReadFile(testutil.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := testutil.BusyboxTar(bb)
	if err != nil {
		t.Fatal(err)
	}
	r = berth(t, bytes.NewReader(rootfs), "import", "-c", "LABEL "+label, "-")
	if r.Code != 0 {
		t.Fatalf("import: %+v", r)
	}
	img := strings.TrimSpace(r.Stdout)
	removeImages(t, img)
	out = mustBerth(t, "image", "prune", "--dry-run", "--filter", "label="+label)
	if !strings.HasPrefix(out, "Would delete Images:\ndeleted: "+img+"\n\nTotal reclaimable space: ") {
		t.Errorf("image prune --dry-run:\n%s", out)
	}
	expectResult(t, "image still there", berth(t, nil, "image", "inspect", "-f", "{{.ID}}", img), 0, img+"\n", "")
	out = mustBerth(t, "image", "prune", "-f", "--filter", "label="+label)
	if !strings.HasPrefix(out, "Deleted Images:\ndeleted: "+img+"\n") || !strings.Contains(out, "\nTotal reclaimed space: ") {
		t.Errorf("image prune:\n%s", out)
	}
	if r := berth(t, nil, "image", "inspect", img); r.Code != 1 {
		t.Errorf("image survived the prune: %+v", r)
	}
}

func TestCLI_Wait(t *testing.T) {
	a, b := cliName(t, "a"), cliName(t, "b")
	removeContainers(t, a, b)
	mustBerth(t, "run", "-d", "--name", a, "busybox", "sh", "-c", "exit 2")
	mustBerth(t, "run", "-d", "--name", b, "busybox", "true")
	expectResult(t, "wait", berth(t, nil, "wait", a, b), 0, "2\n0\n", "")
	expectResult(t, "wait missing", berth(t, nil, "wait", a, b+"-missing"), 1, "2\n", "Error response from daemon: No such container: "+b+"-missing\n")
}

func TestCLI_UsageErrors(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"ps", "--bogus"}, 125, "unknown flag: --bogus\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"},
		{[]string{"ps", "x"}, 1, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"},
		{[]string{"rename", "a"}, 1, "berth: 'berth rename' requires 2 arguments\n\nUsage:  berth rename CONTAINER NEW_NAME\n\nRun 'berth rename --help' for more information\n"},
		{[]string{"bogus"}, 1, "berth: unknown command: berth bogus\n\nRun 'berth --help' for more information\n"},
		{[]string{"container", "bogus"}, 1, "berth: unknown command: berth container bogus\n\nUsage:  berth container\n\nRun 'berth container --help' for more information\n"},
	}
	for _, tc := range tests {
		expectResult(t, strings.Join(tc.args, " "), berth(t, nil, tc.args...), tc.code, "", tc.stderr)
	}
}
