package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"berth/internal/filters"
	"berth/internal/testutil"
)

func TestStore_PluginLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	p := testutil.StartVolumePlugin(t, e.pluginDir, "testplug")
	p.SetScope("global")

	v, err := e.store.Create(ctx, "remote", "testplug", map[string]string{"replicas": "3"}, map[string]string{"l": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "testplug" || v.Scope != "global" || v.Options["replicas"] != "3" {
		t.Fatalf("created %+v", v)
	}
	if !slices.Equal(p.Volumes(), []string{"remote"}) || p.Options("remote")["replicas"] != "3" {
		t.Fatalf("plugin volumes %v, options %v", p.Volumes(), p.Options("remote"))
	}
	calls := p.Calls()
	if len(calls) < 3 || calls[0] != "Plugin.Activate" || !slices.Contains(calls, "VolumeDriver.Capabilities") || calls[len(calls)-1] != "VolumeDriver.Create" {
		t.Fatalf("calls %v", calls)
	}

	path, err := e.store.Mount(ctx, "remote", "c1")
	if err != nil || path != filepath.Join(p.Root, "remote") {
		t.Fatalf("mount: %q, %v", path, err)
	}
	if _, err := e.store.Mount(ctx, "remote", "c2"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.MountIDs("remote"), []string{"c1", "c2"}) {
		t.Fatalf("plugin mounts %v", p.MountIDs("remote"))
	}
	if err := e.store.Remove(ctx, "remote", false); err == nil || err.Error() != "remove remote: volume is in use - [c1, c2]" {
		t.Fatalf("remove while mounted: %v", err)
	}

	// The store is rebuilt (a daemon restart): the plugin is found again.
	e.restart(t)
	got, err := e.store.Get(ctx, "remote")
	if err != nil || got.Mountpoint != path || got.Driver != "testplug" {
		t.Fatalf("get after restart: %+v, %v", got, err)
	}
	for _, id := range []string{"c1", "c2"} {
		if err := e.store.Unmount(ctx, "remote", id); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.MountIDs("remote")) != 0 {
		t.Fatalf("plugin still has mounts %v", p.MountIDs("remote"))
	}

	// A volume made behind berth's back is listed, and adopted on use.
	if err := p.AddVolume("foreign"); err != nil {
		t.Fatal(err)
	}
	vs, warnings, err := e.store.List(ctx, nil)
	if err != nil || len(warnings) != 0 || !slices.Equal(names(vs), []string{"foreign", "remote"}) {
		t.Fatalf("list: %v %v %v", names(vs), warnings, err)
	}
	if !slices.Contains(p.Calls(), "VolumeDriver.List") {
		t.Fatal("list did not ask the plugin")
	}
	vs, _, err = e.store.List(ctx, filters.Args{"driver": {"local": true}})
	if err != nil || len(vs) != 0 {
		t.Fatalf("local-only list: %v %v", names(vs), err)
	}
	if err := e.store.Remove(ctx, "foreign", false); err != nil {
		t.Fatal(err)
	}

	if err := e.store.Remove(ctx, "remote", false); err != nil {
		t.Fatal(err)
	}
	if len(p.Volumes()) != 0 {
		t.Fatalf("plugin still has %v", p.Volumes())
	}
	if _, err := e.store.Get(ctx, "remote"); !errdefs.IsNotFound(err) {
		t.Fatalf("get after remove: %v", err)
	}
}

func TestStore_PluginStartedLater(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	if _, err := e.store.Create(ctx, "late", "lateplug", nil, nil); !errdefs.IsNotFound(err) {
		t.Fatalf("before the plugin starts: %v", err)
	}
	testutil.StartVolumePlugin(t, e.pluginDir, "lateplug")
	if _, err := e.store.Create(ctx, "late", "lateplug", nil, nil); err != nil {
		t.Fatalf("after the plugin started: %v", err)
	}
}

func TestStore_PluginMovedIsActivatedAgain(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	sub := filepath.Join(e.pluginDir, "first")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// A spec file pointing at the socket, then the socket itself moves.
	p1 := testutil.StartVolumePlugin(t, sub, "moving")
	if err := os.WriteFile(filepath.Join(e.pluginDir, "moving.spec"), []byte("unix://"+p1.Socket+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Create(ctx, "m1", "moving", nil, nil); err != nil {
		t.Fatal(err)
	}
	sub2 := filepath.Join(e.pluginDir, "second")
	if err := os.Mkdir(sub2, 0o755); err != nil {
		t.Fatal(err)
	}
	p2 := testutil.StartVolumePlugin(t, sub2, "moving")
	if err := os.WriteFile(filepath.Join(e.pluginDir, "moving.spec"), []byte("unix://"+p2.Socket), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Create(ctx, "m2", "moving", nil, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p2.Volumes(), []string{"m2"}) || p2.Calls()[0] != "Plugin.Activate" {
		t.Fatalf("second plugin: volumes %v calls %v", p2.Volumes(), p2.Calls())
	}
}

func TestStore_PluginErrors(t *testing.T) {
	tests := []struct {
		name   string
		method string
		hang   bool
		op     func(ctx context.Context, e *env) error
		want   string
		class  func(error) bool
	}{
		{
			name: "create error", method: "VolumeDriver.Create",
			op: func(ctx context.Context, e *env) error {
				_, err := e.store.Create(ctx, "v1", "faulty", nil, nil)
				return err
			},
			want: "create v1: VolumeDriver.Create: disk full",
		},
		{
			name: "mount error", method: "VolumeDriver.Mount",
			op:   func(ctx context.Context, e *env) error { _, err := e.store.Mount(ctx, "ok", "c1"); return err },
			want: "mount ok: VolumeDriver.Mount: disk full",
		},
		{
			name: "remove error", method: "VolumeDriver.Remove",
			op:   func(ctx context.Context, e *env) error { return e.store.Remove(ctx, "ok", false) },
			want: "remove ok: VolumeDriver.Remove: disk full",
		},
		{
			name: "activate error", method: "Plugin.Activate",
			op: func(ctx context.Context, e *env) error {
				_, err := e.store.Create(ctx, "v1", "faulty", nil, nil)
				return err
			},
			want: "create v1: error activating volume plugin faulty: Plugin.Activate: disk full",
		},
		{
			name: "create hangs", method: "VolumeDriver.Create", hang: true,
			op: func(ctx context.Context, e *env) error {
				_, err := e.store.Create(ctx, "v1", "faulty", nil, nil)
				return err
			},
			want:  `create v1: VolumeDriver.Create: plugin "faulty" did not answer within 300ms`,
			class: errdefs.IsUnavailable,
		},
		{
			name: "mount hangs", method: "VolumeDriver.Mount", hang: true,
			op:    func(ctx context.Context, e *env) error { _, err := e.store.Mount(ctx, "ok", "c1"); return err },
			want:  `mount ok: VolumeDriver.Mount: plugin "faulty" did not answer within 300ms`,
			class: errdefs.IsUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.cfg.PluginTimeout = 300 * time.Millisecond
			e.restart(t)
			ctx := testutil.Context(t)
			p := testutil.StartVolumePlugin(t, e.pluginDir, "faulty")
			if tt.method != "Plugin.Activate" {
				if _, err := e.store.Create(ctx, "ok", "faulty", nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			if tt.hang {
				p.Hang(tt.method)
			} else {
				p.FailWith(tt.method, "disk full")
			}
			err := tt.op(ctx, e)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if tt.class != nil && !tt.class(err) {
				t.Fatalf("error %v has the wrong class", err)
			}
			// Nothing half-done: no record for a failed create, no mount id
			// for a failed mount, and the volume still there after a failed remove.
			vs, _, _ := e.store.List(ctx, nil)
			if slices.Contains(names(vs), "v1") {
				t.Fatal("record left after a failed create")
			}
			if tt.method == "VolumeDriver.Remove" && !slices.Contains(names(vs), "ok") {
				t.Fatal("record dropped after a failed remove")
			}
			if strings.HasSuffix(tt.method, "Mount") {
				if err := e.store.Remove(ctx, "ok", true); err != nil {
					t.Fatalf("remove after failed mount: %v", err)
				}
			}
		})
	}
}

func TestStore_PluginGoneForceRemove(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	sub := filepath.Join(t.TempDir(), "p")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	p := testutil.StartVolumePlugin(t, sub, "gone")
	spec := filepath.Join(e.pluginDir, "gone.json")
	if err := os.WriteFile(spec, []byte(`{"Name":"gone","Addr":"unix://`+p.Socket+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Create(ctx, "orphan", "gone", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(spec); err != nil {
		t.Fatal(err)
	}
	err := e.store.Remove(ctx, "orphan", false)
	if !errdefs.IsNotFound(err) || err.Error() != `remove orphan: error looking up volume plugin gone: plugin "gone" not found` {
		t.Fatalf("remove with the plugin gone: %v", err)
	}
	vs, warnings, err := e.store.List(ctx, nil)
	if err != nil || !slices.Equal(names(vs), []string{"orphan"}) || len(warnings) != 1 {
		t.Fatalf("list with the plugin gone: %v %v %v", names(vs), warnings, err)
	}
	if err := e.store.Remove(ctx, "orphan", true); err != nil {
		t.Fatalf("forced remove: %v", err)
	}
	if _, err := e.store.Get(ctx, "orphan"); !errdefs.IsNotFound(err) {
		t.Fatalf("still there: %v", err)
	}
}
