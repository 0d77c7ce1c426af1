//go:build compat

package compat

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unixNano formats t as docker's --since/--until accept it (seconds with a
// nanosecond fraction).
func unixNano(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// docker events reference: --since/--until replay the events of a closed
// window and exit; a detached run, wait and rm give create, start, die
// (with exitCode) and destroy, in order, with the container's name and
// image as attributes.
func TestEvents(t *testing.T) {
	name := ctrName(t)
	since := time.Now()
	id := runDetached(t, "--name", name, "busybox", "sh", "-c", "exit 2")
	ok(t, "wait", name)
	ok(t, "rm", name)
	until := time.Now()

	out := ok(t, "events", "--since", unixNano(since), "--until", unixNano(until),
		"--filter", "container="+name, "--format", `{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.image}}`)
	var want []string
	for _, a := range []string{"create", "start", "die", "destroy"} {
		want = append(want, "container "+a+" "+id+" "+name+" busybox")
	}
	if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	out = ok(t, "events", "--since", unixNano(since), "--until", unixNano(until), "--filter", "container="+id, "--filter", "event=die", "--format", "{{json .Actor.Attributes}}")
	if !strings.Contains(out, `"exitCode":"2"`) {
		t.Fatalf("die event attributes %q", out)
	}
	// The default format: RFC 3339 time, type, action, ID, (attributes).
	out = ok(t, "events", "--since", unixNano(since), "--until", unixNano(until), "--filter", "container="+id, "--filter", "event=create")
	if !regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z container create ` + id + ` \(image=busybox, name=` + regexp.QuoteMeta(name) + `\)\n$`).MatchString(out) {
		t.Fatalf("default event line %q", out)
	}
	// An attached run adds attach (before start); --rm adds destroy.
	attached := ctrName(t, "attached")
	since = time.Now()
	ok(t, "run", "--rm", "--name", attached, "busybox", "true")
	until = time.Now()
	out = ok(t, "events", "--since", unixNano(since), "--until", unixNano(until), "--filter", "container="+attached, "--format", "{{.Action}}")
	if out != "create\nattach\nstart\ndie\ndestroy\n" {
		t.Fatalf("events of an attached run --rm:\n%s", out)
	}
}

// docker system df reference: TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE for
// images, containers, local volumes and the build cache.
func TestSystemDf(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	out := ok(t, "system", "df")
	if !regexp.MustCompile(`^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\n`).MatchString(out) {
		t.Fatalf("df header:\n%s", out)
	}
	rows := table(t, out, "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE")
	var types []string
	for _, r := range rows {
		types = append(types, r["TYPE"])
	}
	if strings.Join(types, ",") != "Images,Containers,Local Volumes,Build Cache" {
		t.Fatalf("df types %q", types)
	}
	if rows[0]["ACTIVE"] == "0" || rows[1]["ACTIVE"] == "0" {
		t.Fatalf("a running container and its image are active:\n%s", out)
	}
	if out := ok(t, "system", "df", "--format", "{{.Type}}"); out != "Images\nContainers\nLocal Volumes\nBuild Cache\n" {
		t.Fatalf("df --format %q", out)
	}
	if r := docker(t, "system", "df", "-v"); r.Code != 0 || !strings.Contains(r.Stdout, "Images space usage:") || !strings.Contains(r.Stdout, name) {
		t.Fatalf("df -v: %s", r)
	}
}

// docker container prune reference: removes stopped containers only and
// lists their IDs under "Deleted Containers:".
func TestContainerPrune(t *testing.T) {
	stopped, running := ctrName(t, "stopped"), ctrName(t, "running")
	sid := strings.TrimSpace(ok(t, "create", "--name", stopped, "busybox", "true"))
	runDetached(t, "--name", running, "busybox", "sleep", "100")
	out := ok(t, "container", "prune", "-f")
	if !strings.HasPrefix(out, "Deleted Containers:\n") || !strings.Contains(out, sid+"\n") || !strings.Contains(out, "\nTotal reclaimed space: ") {
		t.Fatalf("container prune:\n%s", out)
	}
	expect(t, docker(t, "container", "inspect", stopped), 1, "No such container")
	if s := inspect(t, "{{.State.Status}}", running); s != "running" {
		t.Fatalf("running container %q", s)
	}
}

// docker system prune reference: stopped containers, unused networks,
// dangling images and the build cache; tagged images stay without -a.
func TestSystemPrune(t *testing.T) {
	stopped := ctrName(t, "stopped")
	sid := strings.TrimSpace(ok(t, "create", "--name", stopped, "busybox", "true"))
	// Importing twice under one name leaves the first image dangling.
	ref := imgName(t, "dangling")
	first := importImage(t, ref)
	second := importImage(t, ref)
	if first == second {
		t.Fatal("two imports gave one ID")
	}
	out := ok(t, "system", "prune", "-f")
	for _, want := range []string{"Deleted Containers:\n" + sid + "\n", "Deleted Images:\n", "deleted: " + first + "\n", "Total reclaimed space: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("system prune lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, second) {
		t.Fatalf("system prune removed a tagged image:\n%s", out)
	}
	imageID(t, ref)
	imageID(t, "busybox:latest")
}
