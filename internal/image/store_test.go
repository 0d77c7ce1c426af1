package image_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"berth/internal/filters"
	"berth/internal/image"
	"berth/internal/testutil"
)

func TestStore_ImportWithChanges(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	rootfs := testutil.BusyboxRootfsTar(t)
	changes := []string{
		`ENV PATH=/usr/bin:/bin GREETING="hello world"`,
		`WORKDIR /srv`,
		`WORKDIR app`,
		`CMD ["sh", "-c", "echo $GREETING"]`,
		`EXPOSE 80 53/udp`,
		`LABEL org.example.name=$GREETING`,
		`USER 1000`,
		`VOLUME ["/data"]`,
		`STOPSIGNAL SIGINT`,
		`ONBUILD RUN echo built`,
		`HEALTHCHECK --interval=5s --retries=2 CMD true`,
	}
	img, err := e.store.Import(ctx, bytes.NewReader(gzipOf(t, rootfs)), "test/busybox:v1", changes, "")
	if err != nil {
		t.Fatal(err)
	}
	e.validate(t, img.ID)
	c := img.Config.Config
	checks := []struct {
		name      string
		got, want any
	}{
		{"env", fmt.Sprint(c.Env), "[PATH=/usr/bin:/bin GREETING=hello world]"},
		{"workdir", c.WorkingDir, "/srv/app"},
		{"cmd", fmt.Sprint(c.Cmd), "[sh -c echo $GREETING]"},
		{"ports", len(c.ExposedPorts), 2},
		{"label", c.Labels["org.example.name"], "hello world"},
		{"user", c.User, "1000"},
		{"volume", len(c.Volumes), 1},
		{"stopsignal", c.StopSignal, "SIGINT"},
		{"onbuild", fmt.Sprint(c.OnBuild), "[RUN echo built]"},
		{"healthcheck", fmt.Sprint(c.Healthcheck.Test), "[CMD-SHELL true]"},
		{"comment", img.Comment, "Imported from -"},
		{"history", len(img.Config.History), 1},
		{"os", img.Config.OS, "linux"},
		{"layers", len(img.Layers), 1},
		{"diffID", img.Layers[0].DiffID, digest.FromBytes(rootfs)},
		{"mediaType", img.Layers[0].MediaType, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{"tags", fmt.Sprint(img.RepoTags), "[test/busybox:v1]"},
		{"chain", img.ChainID(), digest.FromBytes(rootfs)},
		{"has layer", e.snap.HasLayer(img.ChainID()), true},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	if img.Size <= 0 {
		t.Errorf("size = %d", img.Size)
	}
	if got := e.pub.actions(); !slices.Contains(got, "image import "+img.ID.String()) {
		t.Errorf("events = %v", got)
	}

	insp, err := e.store.Inspect(ctx, "test/busybox:v1")
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != img.ID.String() || insp.Comment != "Imported from -" || insp.Os != "linux" ||
		len(insp.RootFS.Layers) != 1 || insp.RootFS.Type != "layers" || insp.Config.WorkingDir != "/srv/app" ||
		insp.GraphDriver == nil || insp.GraphDriver.Name != "overlay2" || insp.Metadata.LastTagTime.IsZero() {
		t.Errorf("inspect = %+v", insp)
	}
	hist, err := e.store.History(ctx, img.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].ID != img.ID.String() || hist[0].Comment != "Imported from -" || hist[0].Size != img.Size {
		t.Errorf("history = %+v", hist)
	}

	// The same tar imported again reuses the layer.
	img2, err := e.store.Import(ctx, bytes.NewReader(rootfs), "", nil, "my message")
	if err != nil {
		t.Fatal(err)
	}
	e.validate(t, img2.ID)
	if img2.ChainID() != img.ChainID() || img2.Comment != "my message" || img2.Size != img.Size {
		t.Errorf("second import = %+v", img2)
	}

	for _, bad := range [][]string{{"RUN echo"}, {"FROM scratch"}, {"EXPOSE"}, {"STOPSIGNAL NOPE"}, {"ONBUILD ONBUILD RUN x"}} {
		_, err := e.store.Import(ctx, bytes.NewReader(rootfs), "", bad, "")
		if !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Import(%q) = %v, want invalid argument", bad, err)
		}
	}
	if _, err := e.store.Import(ctx, bytes.NewReader(rootfs), "", []string{"RUN echo"}, ""); err == nil || err.Error() != "run is not a valid change command" {
		t.Errorf("RUN error = %v", err)
	}
}

func TestStore_GetReferenceForms(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	img, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "a", "1")), "busybox", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Tag(ctx, "busybox", "example.com:5000/team/app:1.0"); err != nil {
		t.Fatal(err)
	}
	id := img.ID.String()
	hex := img.ID.Encoded()
	for _, ref := range []string{
		id, hex, hex[:12], "sha256:" + hex[:10], "busybox", "busybox:latest", "library/busybox",
		"docker.io/library/busybox:latest", "example.com:5000/team/app:1.0",
		"busybox@" + img.ManifestDigest.String(),
	} {
		got, err := e.store.Get(ctx, ref)
		if err != nil {
			t.Errorf("Get(%q): %v", ref, err)
			continue
		}
		if got.ID != img.ID {
			t.Errorf("Get(%q) = %s, want %s", ref, got.ID, img.ID)
		}
	}
	missing := []struct{ ref, msg string }{
		{"nosuch", "No such image: nosuch:latest"},
		{"busybox:other", "No such image: busybox:other"},
		{"sha256:" + strings.Repeat("0", 64), "No such image: sha256:" + strings.Repeat("0", 64)},
	}
	for _, m := range missing {
		_, err := e.store.Get(ctx, m.ref)
		if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != m.msg {
			t.Errorf("Get(%q) = %v, want %q (not found)", m.ref, err, m.msg)
		}
	}
	for _, bad := range []string{"UPPER", "a b", "", "busybox:" + strings.Repeat("x", 200)} {
		if _, err := e.store.Get(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Get(%q) = %v, want invalid argument", bad, err)
		}
	}

	// Ambiguous prefix: 17 images share a first hex digit somewhere.
	byFirst := map[byte]int{}
	for i := range 17 {
		im, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, fmt.Sprintf("f%d", i), "x")), "", nil, "")
		if err != nil {
			t.Fatal(err)
		}
		byFirst[im.ID.Encoded()[0]]++
	}
	byFirst[hex[0]]++
	for c, n := range byFirst {
		if n > 1 {
			if _, err := e.store.Get(ctx, "sha256:"+string(c)); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("ambiguous prefix %c: %v", c, err)
			}
			break
		}
	}
}

func TestStore_TagAndRemoveRules(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	img, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "a", "1")), "one:v1", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	id := img.ID.String()
	short := img.ID.Encoded()[:12]
	if err := e.store.Tag(ctx, "one:v1", "two"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"UPPER", "x@sha256:" + strings.Repeat("a", 64), "sha256:abc"} {
		if err := e.store.Tag(ctx, id, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Tag(%q) = %v, want invalid argument", bad, err)
		}
	}
	if err := e.store.Tag(ctx, "nosuch", "x"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Tag of missing = %v", err)
	}

	// By ID with two tags: must be forced.
	_, err = e.store.Remove(ctx, id, false, false, nil)
	want := "conflict: unable to delete " + short + " (must be forced) - image is referenced in multiple repositories"
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != want {
		t.Errorf("rm by ID = %v, want %q", err, want)
	}
	// By one of two names: only untags.
	res, err := e.store.Remove(ctx, "two", false, false, nil)
	if err != nil || len(res) != 1 || res[0].Untagged != "two:latest" {
		t.Fatalf("rm two = %+v, %v", res, err)
	}

	stopped := func(digest.Digest) []image.ContainerUse { return []image.ContainerUse{{ID: strings.Repeat("c", 64)}} }
	running := func(digest.Digest) []image.ContainerUse {
		return []image.ContainerUse{{ID: strings.Repeat("d", 64), Running: true}}
	}
	_, err = e.store.Remove(ctx, "one:v1", false, false, stopped)
	if !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "unable to remove repository reference \"one:v1\" (must force) - container cccccccccccc is using its referenced image "+short) {
		t.Errorf("rm name used = %v", err)
	}
	_, err = e.store.Remove(ctx, id, false, false, stopped)
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container cccccccccccc" {
		t.Errorf("rm used by stopped = %v", err)
	}
	_, err = e.store.Remove(ctx, id, true, false, running)
	if !errors.Is(err, errdefs.ErrConflict) || err.Error() != "conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container dddddddddddd" {
		t.Errorf("rm used by running = %v", err)
	}

	// A second image sharing the layer keeps it when the first goes.
	other, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "a", "1")), "other", nil, "other")
	if err != nil {
		t.Fatal(err)
	}
	res, err = e.store.Remove(ctx, id, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.validate(t, other.ID)
	if got := fmt.Sprint(res); got != "[{ one:v1} {"+id+" }]" {
		t.Errorf("rm by ID = %s", got)
	}
	if !e.snap.HasLayer(other.ChainID()) {
		t.Fatal("shared layer removed")
	}
	if _, err := e.cs.Info(img.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("config blob kept: %v", err)
	}
	// Re-tagging moves the tag; the old holder becomes dangling.
	third, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "b", "2")), "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Tag(ctx, third.ID.String(), "other"); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(ctx, other.ID.String())
	if err != nil || len(got.RepoTags) != 0 {
		t.Errorf("old holder = %+v, %v", got, err)
	}
	// Removing the last tag deletes the image and releases its layer.
	res, err = e.store.Remove(ctx, "other", false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Untagged != "other:latest" || res[1].Deleted != third.ID.String() || res[2].Deleted != third.ChainID().String() {
		t.Errorf("rm last tag = %+v", res)
	}
	if e.snap.HasLayer(third.ChainID()) {
		t.Error("layer not released")
	}
	if _, err := e.store.Remove(ctx, "other", false, false, nil); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("rm again = %v", err)
	}
	evs := strings.Join(e.pub.actions(), "\n")
	for _, w := range []string{"image tag two:latest", "image untag " + id, "image delete " + id} {
		if !strings.Contains(evs, w) {
			t.Errorf("events lack %q:\n%s", w, evs)
		}
	}
}

func TestStore_ListFilters(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	a, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "a", "1")), "app/web:1", []string{"LABEL tier=front"}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "b", "2")), "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "c", "3")), "db:5", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		filters map[string][]string
		want    []string
	}{
		{"all", nil, []string{c.ID.String(), b.ID.String(), a.ID.String()}},
		{"dangling", map[string][]string{"dangling": {"true"}}, []string{b.ID.String()}},
		{"not dangling", map[string][]string{"dangling": {"false"}}, []string{c.ID.String(), a.ID.String()}},
		{"label", map[string][]string{"label": {"tier=front"}}, []string{a.ID.String()}},
		{"reference", map[string][]string{"reference": {"app/*"}}, []string{a.ID.String()}},
		{"before", map[string][]string{"before": {"db:5"}}, []string{b.ID.String(), a.ID.String()}},
		{"since", map[string][]string{"since": {a.ID.String()}}, []string{c.ID.String(), b.ID.String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filters.Args{}
			for k, vs := range tt.filters {
				f[k] = map[string]bool{}
				for _, v := range vs {
					f[k][v] = true
				}
			}
			got, err := e.store.List(ctx, f, false)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range got {
				ids = append(ids, s.ID)
				if s.Containers != -1 || s.RepoTags == nil {
					t.Errorf("summary %+v", s)
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
		})
	}
	if _, err := e.store.List(ctx, filters.Args{"bogus": {"x": true}}, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bogus filter = %v", err)
	}
	du, err := e.store.DiskUsage(ctx, nil)
	if err != nil || du.TotalCount != 3 || du.TotalSize != 3 || len(du.Items) != 3 {
		t.Errorf("disk usage = %+v, %v", du, err)
	}
}

func TestStore_Prune(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	dangling, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "a", "1")), "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "b", "22")), "keep:1", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	used, err := e.store.Import(ctx, bytes.NewReader(tarOf(t, "c", "333")), "used:1", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	usedBy := func(id digest.Digest) []image.ContainerUse {
		if id == used.ID {
			return []image.ContainerUse{{ID: "abc"}}
		}
		return nil
	}
	rep, err := e.store.Prune(ctx, nil, false, usedBy, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ImagesDeleted) != 1 || rep.ImagesDeleted[0].Deleted != dangling.ID.String() || rep.SpaceReclaimed != 1 {
		t.Errorf("dry run = %+v", rep)
	}
	if _, err := e.store.Get(ctx, dangling.ID.String()); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}
	rep, err = e.store.Prune(ctx, nil, false, usedBy, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ImagesDeleted) != 2 || rep.ImagesDeleted[0].Deleted != dangling.ID.String() || rep.SpaceReclaimed != 1 {
		t.Errorf("prune = %+v", rep)
	}
	rep, err = e.store.Prune(ctx, filters.Args{"label": {"nope": true}}, true, usedBy, false)
	if err != nil || len(rep.ImagesDeleted) != 0 {
		t.Errorf("prune label = %+v, %v", rep, err)
	}
	rep, err = e.store.Prune(ctx, filters.Args{"until": {"2000-01-01": true}}, true, usedBy, false)
	if err != nil || len(rep.ImagesDeleted) != 0 {
		t.Errorf("prune until = %+v, %v", rep, err)
	}
	rep, err = e.store.Prune(ctx, nil, true, usedBy, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rep.ImagesDeleted); got != "[{ keep:1} {"+tagged.ID.String()+" } {"+tagged.ChainID().String()+" }]" || rep.SpaceReclaimed != 2 {
		t.Errorf("prune all = %s %d", got, rep.SpaceReclaimed)
	}
	if _, err := e.store.Get(ctx, "used:1"); err != nil {
		t.Errorf("used image pruned: %v", err)
	}
	if _, err := e.store.Prune(ctx, filters.Args{"reference": {"x": true}}, false, nil, false); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad prune filter = %v", err)
	}
	if evs := e.pub.actions(); !slices.Contains(evs, "image prune ") {
		t.Errorf("events = %v", evs)
	}
}

func TestStore_ConcurrentImportsShareLayers(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	layer := tarOf(t, "shared", "data")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := e.store.Import(ctx, bytes.NewReader(layer), fmt.Sprintf("c:%d", i), nil, fmt.Sprintf("msg %d", i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := e.store.Images(ctx)
	if err != nil || len(imgs) != 8 {
		t.Fatalf("images = %d, %v", len(imgs), err)
	}
	for _, img := range imgs {
		e.validate(t, img.ID)
	}
	layers, err := e.snap.Layers()
	if err != nil || len(layers) != 1 {
		t.Errorf("layers = %v, %v", layers, err)
	}
}
