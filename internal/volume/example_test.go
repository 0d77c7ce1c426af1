package volume_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"berth/internal/metadata"
	"berth/internal/volume"
)

// A container's life with a named volume: create it, hold it, mount it,
// seed it from the image, and let it go.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "volume-example")
	defer os.RemoveAll(dir)
	db, _ := metadata.Open(filepath.Join(dir, "berth.db"))
	defer db.Close()

	cfg := volume.DefaultConfig()
	cfg.Root = filepath.Join(dir, "volumes")
	cfg.PluginDirs = []string{filepath.Join(dir, "plugins")}
	store, err := volume.New(cfg, db)
	if err != nil {
		fmt.Println(err)
		return
	}

	v, _ := store.Create(ctx, "appdata", "local", nil, map[string]string{"app": "web"})
	_ = store.Acquire(ctx, v.Name, "c1")
	hostPath, _ := store.Mount(ctx, v.Name, "c1")

	image := filepath.Join(dir, "rootfs", "var", "www")
	_ = os.MkdirAll(image, 0o755)
	_ = os.WriteFile(filepath.Join(image, "index.html"), []byte("hi"), 0o644)
	_ = store.Seed(ctx, v.Name, image)
	b, _ := os.ReadFile(filepath.Join(hostPath, "index.html"))
	fmt.Println(string(b))

	fmt.Println(store.Remove(ctx, v.Name, false))
	_ = store.Unmount(ctx, v.Name, "c1")
	_ = store.Release(ctx, v.Name, "c1")
	fmt.Println(store.Remove(ctx, v.Name, false))
	// Output:
	// hi
	// remove appdata: volume is in use - [c1]
	// <nil>
}
