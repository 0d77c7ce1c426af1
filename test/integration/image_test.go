//go:build integration

package integration

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// dockerArchive builds a `docker save` archive (legacy layout) with the
// given layers on top of the busybox rootfs.
func dockerArchive(t *testing.T, tag string, layers [][]byte) []byte {
	t.Helper()
	return dockerArchiveWithConfig(t, tag, layers, map[string]any{"Cmd": []string{"sh"}})
}

// tarHeader is a header for makeTar: a directory or a regular file.
func tarHeader(name string, mode int64, isDir bool) tar.Header {
	if isDir {
		return tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}
	}
	return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}
}

// dockerArchiveWithConfig is dockerArchive with a given container config.
func dockerArchiveWithConfig(t *testing.T, tag string, layers [][]byte, config map[string]any) []byte {
	t.Helper()
	var diffIDs []string
	var names []string
	var files []tarEntry
	for i, l := range layers {
		diffIDs = append(diffIDs, sha(l))
		n := fmt.Sprintf("l%03d/layer.tar", i)
		names = append(names, n)
		files = append(files, tarEntry{tar.Header{Name: n, Typeflag: tar.TypeReg}, l})
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
		"config": config,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgName := strings.TrimPrefix(sha(cfg), "sha256:") + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": names}})
	files = append(files, tarEntry{tar.Header{Name: cfgName, Typeflag: tar.TypeReg}, cfg},
		tarEntry{tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg}, manifest})
	return makeTar(t, files...)
}

func loadArchive(t *testing.T, c *client.Client, archive []byte) (string, error) {
	t.Helper()
	res, err := c.ImageLoad(t.Context(), bytes.NewReader(archive))
	if err != nil {
		return "", err
	}
	defer res.Close()
	b, err := io.ReadAll(res)
	if strings.Contains(string(b), `"error"`) {
		return string(b), fmt.Errorf("load: %s", b)
	}
	return string(b), err
}

// Images of 128 layers run: the overlay mount must not hit the page-size
// limit of the classic option string.
func TestImage_128LayersRun(t *testing.T) {
	c := apiClient(t)
	layers := [][]byte{testutil.BusyboxRootfsTar(t)}
	for i := 1; i < 128; i++ {
		layers = append(layers, makeTar(t, tarEntry{tar.Header{Name: fmt.Sprintf("layers/f%03d", i), Typeflag: tar.TypeReg}, []byte("x")}))
	}
	tag := "many:layers"
	if _, err := loadArchive(t, c, dockerArchive(t, tag, layers)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.ImageRemove(t.Context(), tag, client.ImageRemoveOptions{Force: true}) })
	ins, err := c.ImageInspect(t.Context(), tag)
	if err != nil || len(ins.RootFS.Layers) != 128 {
		t.Fatalf("inspect: %v, %d layers", err, len(ins.RootFS.Layers))
	}
	id := create(t, c, "", &container.Config{Image: tag, Cmd: []string{"sh", "-c", "ls /layers | wc -l"}}, nil)
	code, out, errOut := runToExit(t, c, id)
	if code != 0 || strings.TrimSpace(out) != "127" {
		t.Fatalf("exit %d out %q err %q", code, out, errOut)
	}
}

// Hostile tars never write outside the data root.
func TestImport_HostileTarContained(t *testing.T) {
	c := apiClient(t)
	outside := filepath.Join(filepath.Dir(shared.DataRoot), "escaped")
	for _, tc := range []struct {
		name    string
		entries []tarEntry
	}{
		{"dotdot", []tarEntry{{tar.Header{Name: "../../escaped", Typeflag: tar.TypeReg}, []byte("x")}}},
		{"abs-symlink-dir", []tarEntry{
			{tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: filepath.Dir(outside)}, nil},
			{tar.Header{Name: "evil/escaped", Typeflag: tar.TypeReg}, []byte("x")}}},
		{"hardlink-out", []tarEntry{{tar.Header{Name: "pw", Typeflag: tar.TypeLink, Linkname: "../../../../etc/passwd"}, nil}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "hostile:" + tc.name
			rc, err := c.ImageImport(t.Context(), client.ImageImportSource{Source: bytes.NewReader(makeTar(t, tc.entries...)), SourceName: "-"}, ref, client.ImageImportOptions{})
			if err == nil {
				_, _ = io.Copy(io.Discard, rc)
				rc.Close()
				_, _ = c.ImageRemove(t.Context(), ref, client.ImageRemoveOptions{Force: true})
			}
			if _, serr := os.Stat(outside); serr == nil {
				os.Remove(outside)
				t.Fatalf("a file was written outside the data root (import err %v)", err)
			}
		})
	}
}

func TestImage_SaveLoadRoundTripAndRmi(t *testing.T) {
	c := apiClient(t)
	ctx := t.Context()
	tag := "roundtrip:" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", ""))[:10]
	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: "busybox:latest", Target: tag}); err != nil {
		t.Fatal(err)
	}
	before, err := c.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.ImageSave(ctx, []string{tag})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || len(archive) == 0 {
		t.Fatalf("save: %v (%d bytes)", err, len(archive))
	}
	if _, err := c.ImageRemove(ctx, tag, client.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImageInspect(ctx, tag); !errdefs.IsNotFound(err) {
		t.Fatalf("tag still present: %v", err)
	}
	out, err := loadArchive(t, c, archive)
	if err != nil || !strings.Contains(out, "Loaded image: "+tag) {
		t.Fatalf("load: %v %s", err, out)
	}
	t.Cleanup(func() { _, _ = c.ImageRemove(ctx, tag, client.ImageRemoveOptions{}) })
	after, err := c.ImageInspect(ctx, tag)
	if err != nil || after.ID != before.ID {
		t.Fatalf("ID changed: %v %s → %s", err, before.ID, after.ID)
	}
	// An image used by a container cannot be removed by ID without force.
	id := create(t, c, "", &container.Config{Image: tag, Cmd: []string{"true"}}, nil)
	_, err = c.ImageRemove(ctx, after.ID, client.ImageRemoveOptions{})
	if !errdefs.IsConflict(err) {
		t.Fatalf("rmi of used image: %v", err)
	}
	_ = id
}
