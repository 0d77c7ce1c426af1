//go:build integration

package integration

import (
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

func TestVolume_NamedSharedAndReadOnly(t *testing.T) {
	c := apiClient(t)
	vol := name(t, "v")
	t.Cleanup(func() { _, _ = c.VolumeRemove(t.Context(), vol, client.VolumeRemoveOptions{Force: true}) })
	w := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "echo kept > /data/f"}}, &container.HostConfig{Binds: []string{vol + ":/data"}})
	if code, _, errOut := runToExit(t, c, w); code != 0 {
		t.Fatalf("writer: %d %s", code, errOut)
	}
	r := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "cat /y/f; touch /y/g"}},
		&container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: vol, Target: "/y", ReadOnly: true}}})
	code, out, errOut := runToExit(t, c, r)
	if code == 0 || out != "kept\n" || !strings.Contains(errOut, "Read-only file system") {
		t.Fatalf("reader: %d %q %q", code, out, errOut)
	}
	ins := inspect(t, c, r)
	if len(ins.Mounts) != 1 || ins.Mounts[0].Type != mount.TypeVolume || ins.Mounts[0].Name != vol || ins.Mounts[0].RW {
		t.Fatalf("inspect mounts: %+v", ins.Mounts)
	}
	// In use: 409 with Docker's text; after the containers go, it can be removed.
	if _, err := c.VolumeRemove(t.Context(), vol, client.VolumeRemoveOptions{}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "volume is in use") {
		t.Fatalf("remove in use: %v", err)
	}
	for _, id := range []string{w, r} {
		if _, err := c.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.VolumeRemove(t.Context(), vol, client.VolumeRemoveOptions{}); err != nil {
		t.Fatalf("remove unused: %v", err)
	}
	if _, err := c.VolumeCreate(t.Context(), client.VolumeCreateOptions{Name: "bad name"}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("invalid name: %v", err)
	}
}

// A new volume is seeded from the image's content at its path; an image
// VOLUME gives an anonymous volume that rm -v removes.
func TestVolume_SeedAndAnonymous(t *testing.T) {
	c := apiClient(t)
	tag := "volimg:" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", ""))[:12]
	rootfs := makeTar(t, tarEntry{hdr: tarHeader("seed/", 0o755, true)}, tarEntry{hdr: tarHeader("seed/in-image", 0o640, false), data: []byte("from image\n")})
	// Put the seed directory into a busybox-based image with a VOLUME.
	archive := dockerArchiveWithConfig(t, tag, [][]byte{testutil.BusyboxRootfsTar(t), rootfs}, map[string]any{"Cmd": []string{"sh"}, "Volumes": map[string]any{"/seed": map[string]any{}}})
	if _, err := loadArchive(t, c, archive); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.ImageRemove(t.Context(), tag, client.ImageRemoveOptions{Force: true}) })
	named := name(t, "seeded")
	t.Cleanup(func() { _, _ = c.VolumeRemove(t.Context(), named, client.VolumeRemoveOptions{Force: true}) })
	id := create(t, c, "", &container.Config{Image: tag, Cmd: []string{"sh", "-c", "cat /seed/in-image; stat -c %a /seed/in-image"}}, &container.HostConfig{Binds: []string{named + ":/seed"}})
	if code, out, errOut := runToExit(t, c, id); code != 0 || out != "from image\n640\n" {
		t.Fatalf("seeded named volume: %d %q %q", code, out, errOut)
	}
	anon := create(t, c, "", &container.Config{Image: tag, Cmd: []string{"cat", "/seed/in-image"}}, nil)
	if code, out, _ := runToExit(t, c, anon); code != 0 || out != "from image\n" {
		t.Fatalf("anonymous volume: %d %q", code, out)
	}
	mounts := inspect(t, c, anon).Mounts
	if len(mounts) != 1 || mounts[0].Type != mount.TypeVolume || len(mounts[0].Name) != 64 {
		t.Fatalf("anonymous volume mount: %+v", mounts)
	}
	if _, err := c.ContainerRemove(t.Context(), anon, client.ContainerRemoveOptions{RemoveVolumes: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VolumeInspect(t.Context(), mounts[0].Name, client.VolumeInspectOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("anonymous volume left after rm -v: %v", err)
	}
}

// The Docker volume-plugin protocol: a plugin started while berthd runs is
// found through /run/docker/plugins and used for create, mount and remove.
func TestVolume_PluginLoadedWithoutRestart(t *testing.T) {
	c := apiClient(t)
	dir := "/run/docker/plugins"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	driver := "berthtest" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", ""))[:8]
	p := testutil.StartVolumePlugin(t, dir, driver)
	vol := name(t, "pv")
	if _, err := c.VolumeCreate(t.Context(), client.VolumeCreateOptions{Name: vol, Driver: driver}); err != nil {
		t.Fatal(err)
	}
	id := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "echo via-plugin > /p/f; cat /p/f"}}, &container.HostConfig{Binds: []string{vol + ":/p"}})
	if code, out, errOut := runToExit(t, c, id); code != 0 || out != "via-plugin\n" {
		t.Fatalf("plugin volume: %d %q %q", code, out, errOut)
	}
	if _, err := c.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VolumeRemove(t.Context(), vol, client.VolumeRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := strings.Join(p.Calls(), " ")
	for _, want := range []string{"Plugin.Activate", "VolumeDriver.Create", "VolumeDriver.Mount", "VolumeDriver.Unmount", "VolumeDriver.Remove"} {
		if !strings.Contains(calls, want) {
			t.Errorf("plugin never got %s: %s", want, calls)
		}
	}
}
