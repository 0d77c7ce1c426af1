package image_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"berth/internal/testutil"
)

// readArchive returns the regular files of a tar by name.
func readArchive(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			out[h.Name] = body
		}
	}
}

func TestStore_SaveLoadRoundTrip(t *testing.T) {
	src := newEnv(t)
	ctx := testutil.Context(t)
	rootfs := testutil.BusyboxRootfsTar(t)
	img, err := src.store.Import(ctx, bytes.NewReader(gzipOf(t, rootfs)), "test/busybox:v1", []string{`CMD ["sh"]`}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := src.store.Tag(ctx, img.ID.String(), "test/busybox:v2"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.store.Save(ctx, &buf, []string{"test/busybox"}); err != nil {
		t.Fatal(err)
	}
	files := readArchive(t, buf.Bytes())
	for _, name := range []string{"index.json", "manifest.json", "oci-layout", "repositories", "blobs/sha256/" + img.ID.Encoded()} {
		if files[name] == nil {
			t.Errorf("archive lacks %s", name)
		}
	}
	diffID := digest.FromBytes(rootfs)
	if layer := files["blobs/sha256/"+diffID.Encoded()]; !bytes.Equal(layer, rootfs) {
		t.Errorf("layer blob is not the uncompressed tar (%d bytes)", len(layer))
	}
	var items []struct {
		Config           string
		RepoTags, Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Config != "blobs/sha256/"+img.ID.Encoded() ||
		!slices.Equal(items[0].RepoTags, []string{"test/busybox:v1", "test/busybox:v2"}) ||
		!slices.Equal(items[0].Layers, []string{"blobs/sha256/" + diffID.Encoded()}) {
		t.Errorf("manifest.json = %s", files["manifest.json"])
	}
	var index struct {
		Manifests []struct {
			Digest      digest.Digest
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 2 || index.Manifests[0].Annotations["io.containerd.image.name"] != "docker.io/test/busybox:v1" ||
		files["blobs/sha256/"+index.Manifests[0].Digest.Encoded()] == nil {
		t.Errorf("index.json = %s", files["index.json"])
	}
	if !strings.Contains(string(files["repositories"]), `"test/busybox":{"v1":"`+diffID.Encoded()+`"`) {
		t.Errorf("repositories = %s", files["repositories"])
	}

	dst := newEnv(t)
	var msgs []string
	if err := dst.store.Load(ctx, bytes.NewReader(buf.Bytes()), func(m string) { msgs = append(msgs, m) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Loaded image: test/busybox:v1", "Loaded image: test/busybox:v2"}; !slices.Equal(msgs, want) {
		t.Errorf("messages = %q, want %q", msgs, want)
	}
	got, err := dst.store.Get(ctx, "test/busybox:v2")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || got.Size != img.Size || fmt.Sprint(got.Config.Config.Cmd) != "[sh]" {
		t.Errorf("loaded %+v, want ID %s size %d", got, img.ID, img.Size)
	}
	src.validate(t, img.ID)
	dst.validate(t, got.ID)
	if !dst.snap.HasLayer(got.ChainID()) {
		t.Error("layer not unpacked")
	}
	// The loaded image saves again to the same manifest.
	var again bytes.Buffer
	if err := dst.store.Save(ctx, &again, []string{got.ID.String()}); err != nil {
		t.Fatal(err)
	}
	if files2 := readArchive(t, again.Bytes()); files2["blobs/sha256/"+index.Manifests[0].Digest.Encoded()] == nil {
		t.Error("manifest digest did not round-trip")
	}
	// Loading again moves nothing and says so once per tag.
	msgs = nil
	if err := dst.store.Load(ctx, bytes.NewReader(buf.Bytes()), func(m string) { msgs = append(msgs, m) }); err != nil || len(msgs) != 2 {
		t.Errorf("reload: %q %v", msgs, err)
	}
}

func TestStore_LoadHandMadeArchives(t *testing.T) {
	l1 := tarOf(t, "etc/one", "1")
	l2 := tarOf(t, "etc/two", "22")
	l2gz := gzipOf(t, l2)
	cfg := configFor(l1, l2)
	cfgID := digest.FromString(cfg)
	legacy := archiveOf(t,
		archiveEntry{name: "aaa/", typ: tar.TypeDir},
		archiveEntry{name: "aaa/layer.tar", body: string(l1)},
		archiveEntry{name: "aaa/VERSION", body: "1.0"},
		archiveEntry{name: "bbb/", typ: tar.TypeDir},
		archiveEntry{name: "ccc/layer.tar", body: string(l2gz)},
		archiveEntry{name: "bbb/layer.tar", typ: tar.TypeSymlink, link: "../ccc/layer.tar"},
		archiveEntry{name: cfgID.Encoded() + ".json", body: cfg},
		archiveEntry{name: "manifest.json", body: `[{"Config":"` + cfgID.Encoded() + `.json","RepoTags":["legacy:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}]`},
		archiveEntry{name: "repositories", body: `{"legacy":{"1":"bbb"}}`},
	)
	blob := func(b []byte) archiveEntry {
		return archiveEntry{name: "blobs/sha256/" + digest.FromBytes(b).Encoded(), body: string(b)}
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfgID.String() + `","size":` + itoa(len(cfg)) +
		`},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + digest.FromBytes(l1).String() + `","size":` + itoa(len(l1)) +
		`},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + digest.FromBytes(l2gz).String() + `","size":` + itoa(len(l2gz)) + `}]}`
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digest.FromString(manifest).String() + `","size":` + itoa(len(manifest)) +
		`,"annotations":{"io.containerd.image.name":"example.com/oci/app:2","org.opencontainers.image.ref.name":"2"}}]}`
	oci := archiveOf(t,
		archiveEntry{name: "oci-layout", body: `{"imageLayoutVersion":"1.0.0"}`},
		blob(l1), blob(l2gz), blob([]byte(cfg)), blob([]byte(manifest)),
		archiveEntry{name: "index.json", body: index},
	)
	tests := []struct {
		name    string
		archive []byte
		ref     string
		msg     string
	}{
		{"legacy", legacy, "legacy:1", "Loaded image: legacy:1"},
		{"oci layout", oci, "example.com/oci/app:2", "Loaded image: example.com/oci/app:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testutil.Context(t)
			var msgs []string
			if err := e.store.Load(ctx, bytes.NewReader(tt.archive), func(m string) { msgs = append(msgs, m) }); err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 || msgs[0] != tt.msg {
				t.Errorf("messages = %q", msgs)
			}
			img, err := e.store.Get(ctx, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			e.validate(t, img.ID)
			if img.ID != cfgID || len(img.Layers) != 2 || img.Layers[1].Digest != digest.FromBytes(l2gz) || !e.snap.HasLayer(img.ChainID()) {
				t.Errorf("image = %+v", img)
			}
			if tt.name == "oci layout" && img.ManifestDigest != digest.FromString(manifest) {
				t.Errorf("manifest digest = %s", img.ManifestDigest)
			}
			// Staged files no image uses (VERSION) are gone again.
			if _, err := e.cs.Info(digest.FromString("1.0")); !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("VERSION blob kept: %v", err)
			}
		})
	}
}

func TestStore_LoadRejectsHostileArchives(t *testing.T) {
	l1 := tarOf(t, "x", "1")
	cfg := configFor(l1)
	cfgID := digest.FromString(cfg)
	man := func(layer string) archiveEntry {
		return archiveEntry{name: "manifest.json", body: `[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["` + layer + `"]}]`}
	}
	cfgEntry := archiveEntry{name: "c.json", body: cfg}
	marker := "berth-hostile-" + cfgID.Encoded()[:16]
	tests := []struct {
		name    string
		archive func(outside string) []byte
	}{
		{"dotdot entry", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "../" + marker, body: "x"}, cfgEntry, man("l.tar"))
		}},
		{"nested dotdot", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "a/../../" + marker, body: "x"}, cfgEntry, man("l.tar"))
		}},
		{"absolute entry", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: filepath.Join(outside, marker), body: "x"}, cfgEntry, man("l.tar"))
		}},
		{"file below symlink", func(outside string) []byte {
			return archiveOf(t,
				archiveEntry{name: "blobs", typ: tar.TypeSymlink, link: outside},
				archiveEntry{name: "blobs/sha256/" + marker, body: "x"},
				cfgEntry, man("l.tar"))
		}},
		{"layer symlink out", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "l.tar", typ: tar.TypeSymlink, link: "/etc/passwd"}, cfgEntry, man("l.tar"))
		}},
		{"layer symlink dotdot", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "l.tar", typ: tar.TypeSymlink, link: "../../etc/passwd"}, cfgEntry, man("l.tar"))
		}},
		{"hard link dotdot", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "l.tar", typ: tar.TypeLink, link: "../" + marker}, cfgEntry, man("l.tar"))
		}},
		{"manifest names missing layer", func(outside string) []byte {
			return archiveOf(t, cfgEntry, man("missing/layer.tar"))
		}},
		{"manifest path escapes", func(outside string) []byte {
			return archiveOf(t, cfgEntry, man("../../../etc/passwd"))
		}},
		{"blob digest mismatch", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "blobs/sha256/" + digest.FromString("other").Encoded(), body: "x"}, cfgEntry, man("l.tar"))
		}},
		{"layer does not match diff ID", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "l.tar", body: string(tarOf(t, "y", "2"))}, cfgEntry, man("l.tar"))
		}},
		{"symlink loop", func(outside string) []byte {
			return archiveOf(t,
				archiveEntry{name: "a", typ: tar.TypeSymlink, link: "b"},
				archiveEntry{name: "b", typ: tar.TypeSymlink, link: "a"},
				cfgEntry, man("a"))
		}},
		{"device entry", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "dev", typ: tar.TypeChar}, cfgEntry, man("l.tar"))
		}},
		{"not a tar", func(outside string) []byte { return []byte("hello, this is not a tar archive at all") }},
		{"empty archive", func(outside string) []byte { return archiveOf(t) }},
		{"bad manifest json", func(outside string) []byte {
			return archiveOf(t, archiveEntry{name: "manifest.json", body: "{"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testutil.Context(t)
			outside := t.TempDir()
			loadErr := e.store.Load(ctx, bytes.NewReader(tt.archive(outside)), nil)
			if !errors.Is(loadErr, errdefs.ErrInvalidArgument) {
				t.Fatalf("Load = %v, want invalid argument", loadErr)
			}
			for _, dir := range []string{outside, filepath.Dir(e.root), e.root, "/etc", "/etc/sha256"} {
				if _, err := os.Lstat(filepath.Join(dir, marker)); err == nil {
					t.Errorf("%s written in %s", marker, dir)
				}
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 0 {
				t.Errorf("outside dir got %d entries", len(entries))
			}
			imgs, err := e.store.Images(ctx)
			if err != nil || len(imgs) != 0 {
				t.Errorf("images after rejected load: %d, %v", len(imgs), err)
			}
			var blobs []digest.Digest
			_ = e.cs.Walk(func(d digest.Digest, _ int64) error { blobs = append(blobs, d); return nil })
			if len(blobs) != 0 {
				t.Errorf("staged blobs left: %v", blobs)
			}
			if layers, err := e.snap.Layers(); err != nil || len(layers) != 0 {
				t.Errorf("layers left: %v, %v", layers, err)
			}
			t.Logf("rejected: %v", loadErr)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
