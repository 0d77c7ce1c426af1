//go:build compat

package compat

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// importImage imports the busybox rootfs as ref with extra import flags and
// returns the image ID docker import prints.
func importImage(t *testing.T, ref string, flags ...string) string {
	t.Helper()
	args := append(append([]string{"import"}, flags...), "-", ref)
	r := dockerIn(t, bytes.NewReader(busyboxTar(t)), args...)
	if r.Code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(r.Stdout) {
		t.Fatalf("import prints the image ID: %s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

func imageID(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(ok(t, "image", "inspect", "--format", "{{.Id}}", ref))
}

// docker images reference: the table (REPOSITORY, TAG, IMAGE ID with 12
// hex digits, CREATED, SIZE), -q, --format, and a reference filter.
func TestImages(t *testing.T) {
	id := imageID(t, "busybox:latest")
	out := ok(t, "images", "busybox")
	if !regexp.MustCompile(`^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED +SIZE\n`).MatchString(out) {
		t.Fatalf("images header:\n%s", out)
	}
	rows := table(t, out, "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")
	if len(rows) != 1 || rows[0]["REPOSITORY"] != "busybox" || rows[0]["TAG"] != "latest" ||
		rows[0]["IMAGE ID"] != strings.TrimPrefix(id, "sha256:")[:12] {
		t.Fatalf("images rows %v:\n%s", rows, out)
	}
	if !regexp.MustCompile(`^[0-9.]+MB$`).MatchString(rows[0]["SIZE"]) || !strings.HasSuffix(rows[0]["CREATED"], " ago") {
		t.Fatalf("images size/created %v", rows[0])
	}
	if q := ok(t, "images", "-q", "busybox"); q != strings.TrimPrefix(id, "sha256:")[:12]+"\n" {
		t.Fatalf("images -q %q", q)
	}
	if f := ok(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "busybox"); f != "busybox:latest "+strings.TrimPrefix(id, "sha256:")[:12]+"\n" {
		t.Fatalf("images --format %q", f)
	}
	if f := ok(t, "images", "--no-trunc", "--format", "{{.ID}}", "busybox"); f != id+"\n" {
		t.Fatalf("images --no-trunc %q", f)
	}
}

// docker tag / rmi reference: a tag is a second name for the same ID; rmi
// of one of several tags only untags ("Untagged: …"); rmi of an image a
// container uses is refused without -f (409 "conflict: unable to remove
// repository reference … (must force) - container … is using its
// referenced image …").
func TestTagRmi(t *testing.T) {
	id := imageID(t, "busybox:latest")
	tag := imgName(t, "v1")
	if out := ok(t, "tag", "busybox:latest", tag); out != "" {
		t.Fatalf("tag prints %q", out)
	}
	if got := imageID(t, tag); got != id {
		t.Fatalf("tag has ID %s, want %s", got, id)
	}
	if out := ok(t, "rmi", tag); out != "Untagged: "+tag+"\n" {
		t.Fatalf("rmi of an extra tag %q", out)
	}
	expect(t, docker(t, "image", "inspect", tag), 1, "No such image: "+tag)

	own := imgName(t, "inuse")
	ownID := importImage(t, own)
	name := ctrName(t)
	cid := strings.TrimSpace(ok(t, "create", "--name", name, own, "true"))
	r := docker(t, "rmi", own)
	expect(t, r, 1, `Error response from daemon: conflict: unable to remove repository reference "`+own+`" (must force) - container `+cid[:12]+` is using its referenced image `+strings.TrimPrefix(ownID, "sha256:")[:12])
	r = docker(t, "rmi", strings.TrimPrefix(ownID, "sha256:")[:12])
	expect(t, r, 1, "Error response from daemon: conflict: unable to delete "+strings.TrimPrefix(ownID, "sha256:")[:12]+" (must be forced) - image is being used by stopped container "+cid[:12])
	ok(t, "rm", name)
	out := ok(t, "rmi", own)
	if out != "Untagged: "+own+"\nDeleted: "+ownID+"\n" && !strings.HasPrefix(out, "Untagged: "+own+"\nDeleted: "+ownID+"\nDeleted: sha256:") {
		t.Fatalf("rmi of the last tag %q", out)
	}
	expect(t, docker(t, "rmi", own), 1, "Error response from daemon: No such image: "+own)
}

// docker history reference: IMAGE, CREATED, CREATED BY, SIZE, COMMENT;
// an imported image has one layer commented "Imported from -".
func TestHistory(t *testing.T) {
	out := ok(t, "history", "busybox")
	if !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT\n`).MatchString(out) {
		t.Fatalf("history header:\n%s", out)
	}
	rows := table(t, out, "IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT")
	id := strings.TrimPrefix(imageID(t, "busybox"), "sha256:")[:12]
	if len(rows) != 1 || rows[0]["IMAGE"] != id || rows[0]["COMMENT"] != "Imported from -" {
		t.Fatalf("history rows %v\n%s", rows, out)
	}
}

// docker image inspect reference: a JSON array with Id, RepoTags, Os,
// Architecture, RootFS layers; --format templates.
func TestImageInspect(t *testing.T) {
	var got []struct {
		ID           string `json:"Id"`
		RepoTags     []string
		Os           string
		Architecture string
		RootFS       struct {
			Type   string
			Layers []string
		}
	}
	if err := json.Unmarshal([]byte(ok(t, "image", "inspect", "busybox")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0].ID, "sha256:") || strings.Join(got[0].RepoTags, ",") != "busybox:latest" ||
		got[0].Os != "linux" || got[0].Architecture != runtime.GOARCH || got[0].RootFS.Type != "layers" || len(got[0].RootFS.Layers) != 1 {
		t.Fatalf("image inspect %+v", got)
	}
	if s := ok(t, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", "busybox"); s != "linux/"+runtime.GOARCH+"\n" {
		t.Fatalf("format %q", s)
	}
	expect(t, docker(t, "image", "inspect", "compat-no-such-image"), 1, "No such image: compat-no-such-image")
}

// docker save / load reference: save writes a tar of the image, load reads
// it back ("Loaded image: NAME:TAG") with the same ID.
func TestSaveLoad(t *testing.T) {
	ref := imgName(t, "saved")
	ok(t, "tag", "busybox:latest", ref)
	id := imageID(t, ref)
	file := filepath.Join(t.TempDir(), "img.tar")
	if out := ok(t, "save", "-o", file, ref); out != "" {
		t.Fatalf("save -o prints %q", out)
	}
	ok(t, "rmi", ref)
	if out := ok(t, "load", "-i", file); out != "Loaded image: "+ref+"\n" {
		t.Fatalf("load prints %q", out)
	}
	if got := imageID(t, ref); got != id {
		t.Fatalf("loaded ID %s, saved %s", got, id)
	}
	// save to stdout, load from stdin.
	r := docker(t, "save", ref)
	if r.Code != 0 || len(r.Stdout) < 1024 {
		t.Fatalf("save to stdout: exit %d, %d bytes, %s", r.Code, len(r.Stdout), r.Stderr)
	}
	ok(t, "rmi", ref)
	if r := dockerIn(t, strings.NewReader(r.Stdout), "load"); r.Code != 0 || r.Stdout != "Loaded image: "+ref+"\n" {
		t.Fatalf("load from stdin: %s", r)
	}
	if got := imageID(t, ref); got != id {
		t.Fatalf("loaded ID %s, saved %s", got, id)
	}
}

// docker import reference: --change applies Dockerfile instructions (CMD,
// ENV, WORKDIR, LABEL) to the new image's config; -m sets the history
// comment.
func TestImportChange(t *testing.T) {
	ref := imgName(t, "1")
	importImage(t, ref, "--change", `CMD ["echo","changed"]`, "--change", "ENV COMPAT=yes", "--change", "WORKDIR /tmp", "-m", "compat import")
	if out := ok(t, "run", "--rm", "--name", ctrName(t, "cmd"), ref); out != "changed\n" {
		t.Fatalf("CMD from --change: %q", out)
	}
	if out := ok(t, "run", "--rm", "--name", ctrName(t, "env"), ref, "sh", "-c", "echo $COMPAT; pwd"); out != "yes\n/tmp\n" {
		t.Fatalf("ENV/WORKDIR from --change: %q", out)
	}
	if s := ok(t, "image", "inspect", "--format", "{{json .Config.Cmd}}", ref); s != `["echo","changed"]`+"\n" {
		t.Fatalf("Config.Cmd %q", s)
	}
	if s := ok(t, "history", "--format", "{{.Comment}}", ref); s != "compat import\n" {
		t.Fatalf("history comment %q", s)
	}
	r := dockerIn(t, bytes.NewReader(busyboxTar(t)), "import", "--change", "BOGUS x", "-", imgName(t, "bad"))
	expect(t, r, 1, "Error response from daemon: bogus is not a valid change command")
}

// docker image prune reference: -a removes every image no container uses
// ("Deleted Images:" with untagged:/deleted: lines and "Total reclaimed
// space:"); an image in use stays.
func TestImagePrune(t *testing.T) {
	name := ctrName(t)
	runDetached(t, "--name", name, "busybox", "sleep", "100")
	ref := imgName(t, "unused")
	id := importImage(t, ref)
	out := ok(t, "image", "prune", "-a", "-f")
	for _, want := range []string{"Deleted Images:\n", "untagged: " + ref + "\n", "deleted: " + id + "\n", "\nTotal reclaimed space: "} {
		if !strings.Contains(out, want) {
			t.Fatalf("prune output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "busybox") {
		t.Fatalf("pruned the image in use:\n%s", out)
	}
	expect(t, docker(t, "image", "inspect", ref), 1, "No such image")
	imageID(t, "busybox:latest")
	if out := ok(t, "image", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Fatalf("nothing to prune %q", out)
	}
}
