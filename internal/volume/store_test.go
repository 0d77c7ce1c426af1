package volume_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	apivolume "github.com/moby/moby/api/types/volume"

	"berth/internal/filters"
	"berth/internal/metadata"
	"berth/internal/testutil"
	"berth/internal/volume"
)

var testNow = time.Date(2026, 11, 5, 10, 30, 0, 0, time.UTC)

type env struct {
	store     *volume.Store
	db        *metadata.DB
	dbPath    string
	cfg       volume.Config
	pluginDir string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dbPath: filepath.Join(dir, "berth.db"), pluginDir: filepath.Join(dir, "plugins")}
	if err := os.Mkdir(e.pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.cfg = volume.Config{
		Root:          filepath.Join(dir, "volumes"),
		PluginDirs:    []string{e.pluginDir},
		PluginTimeout: 5 * time.Second,
		Now:           func() time.Time { return testNow },
	}
	e.open(t)
	return e
}

// open (re)opens the metadata file and a store over it, as a daemon start does.
func (e *env) open(t *testing.T) {
	t.Helper()
	db, err := metadata.Open(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := volume.New(e.cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.store = db, s
}

func (e *env) restart(t *testing.T) {
	t.Helper()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
}

func names(vs []apivolume.Volume) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func TestStore_CreateGetAndIdempotence(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	v, err := e.store.Create(ctx, "data", "", nil, map[string]string{"a": "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := apivolume.Volume{
		Name: "data", Driver: "local", Scope: "local", Labels: map[string]string{"a": "1"},
		Mountpoint: filepath.Join(e.cfg.Root, "data", "_data"), CreatedAt: "2026-11-05T10:30:00Z",
	}
	if v.Name != want.Name || v.Driver != want.Driver || v.Scope != want.Scope || v.Mountpoint != want.Mountpoint ||
		v.CreatedAt != want.CreatedAt || v.Labels["a"] != "1" || v.Options != nil {
		t.Fatalf("created %+v, want %+v", v, want)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	// Same name, same (or no) driver: the existing volume, labels unchanged.
	for _, drv := range []string{"", "local"} {
		again, err := e.store.Create(ctx, "data", drv, nil, map[string]string{"b": "2"})
		if err != nil || again.Labels["a"] != "1" || again.Labels["b"] != "" {
			t.Fatalf("re-create with driver %q: %+v, %v", drv, again, err)
		}
	}
	got, err := e.store.Get(ctx, "data")
	if err != nil || got.Name != "data" || got.Mountpoint != want.Mountpoint {
		t.Fatalf("get: %+v, %v", got, err)
	}
	_, err = e.store.Get(ctx, "nope")
	if !errdefs.IsNotFound(err) || !errors.Is(err, volume.ErrNoSuchVolume) || err.Error() != "get nope: no such volume" {
		t.Fatalf("get missing: %v", err)
	}
}

func TestStore_CreateConflictingDriver(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	testutil.StartVolumePlugin(t, e.pluginDir, "other")
	if _, err := e.store.Create(ctx, "shared", "local", nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.store.Create(ctx, "shared", "other", nil, nil)
	want := "create shared: driver 'local' already has volume 'shared': volume name must be unique"
	if !errdefs.IsConflict(err) || !errors.Is(err, volume.ErrNameConflict) || err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestStore_CreateInvalid(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	tests := []struct {
		name, vol, driver string
		opts              map[string]string
		want              string
		class             func(error) bool
	}{
		{name: "one char", vol: "a", want: "create a: volume name is too short, names should be at least two alphanumeric characters", class: errdefs.IsInvalidArgument},
		{name: "slash", vol: "a/b", want: `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`, class: errdefs.IsInvalidArgument},
		{name: "dot dot", vol: "..", want: `create ..: ".." includes invalid characters`, class: errdefs.IsInvalidArgument},
		{name: "leading dash", vol: "-rf", want: `includes invalid characters`, class: errdefs.IsInvalidArgument},
		{name: "absolute path", vol: "/etc", want: `includes invalid characters`, class: errdefs.IsInvalidArgument},
		{name: "space", vol: "my vol", want: `includes invalid characters`, class: errdefs.IsInvalidArgument},
		{name: "too long", vol: "a" + strings.Repeat("b", 300), want: `includes invalid characters`, class: errdefs.IsInvalidArgument},
		{name: "bad option", vol: "opt", opts: map[string]string{"foo": "1"}, want: `create opt: invalid option: "foo"`, class: errdefs.IsInvalidArgument},
		{name: "missing device", vol: "opt", opts: map[string]string{"type": "tmpfs"}, want: `create opt: missing required option: "device"`, class: errdefs.IsInvalidArgument},
		{name: "unknown driver", vol: "x1", driver: "nosuch", want: `create x1: error looking up volume plugin nosuch: plugin "nosuch" not found`, class: errdefs.IsNotFound},
		{name: "driver name with slash", vol: "x1", driver: "../etc", want: `invalid plugin name`, class: errdefs.IsInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.store.Create(ctx, tt.vol, tt.driver, tt.opts, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !tt.class(err) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	vs, _, err := e.store.List(ctx, nil)
	if err != nil || len(vs) != 0 {
		t.Fatalf("left behind: %v, %v", names(vs), err)
	}
	if entries, _ := os.ReadDir(e.cfg.Root); len(entries) != 0 {
		t.Fatalf("directories left behind in %s: %d", e.cfg.Root, len(entries))
	}
}

func TestStore_AnonymousVolume(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	labels := map[string]string{"keep": "me"}
	v, err := e.store.Create(ctx, "", "", nil, labels)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v.Name) {
		t.Fatalf("anonymous name %q", v.Name)
	}
	if _, ok := v.Labels[volume.AnonymousLabel]; !ok || v.Labels["keep"] != "me" {
		t.Fatalf("labels %v", v.Labels)
	}
	if _, ok := labels[volume.AnonymousLabel]; ok {
		t.Fatal("caller's label map was modified")
	}
}

func TestStore_RemoveInUse(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	if _, err := e.store.Create(ctx, "busy", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Acquire(ctx, "busy", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Acquire(ctx, "busy", "c1"); err != nil {
		t.Fatal(err)
	}
	// References survive a restart.
	e.restart(t)
	for _, force := range []bool{false, true} {
		err := e.store.Remove(ctx, "busy", force)
		if !errdefs.IsConflict(err) || !errors.Is(err, volume.ErrInUse) || err.Error() != "remove busy: volume is in use - [c1, c2]" {
			t.Fatalf("force=%v: got %v", force, err)
		}
	}
	if err := e.store.Release(ctx, "busy", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.ReleaseAll(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Release(ctx, "busy", "never"); err != nil {
		t.Fatalf("release of an unknown id: %v", err)
	}
	if err := e.store.Remove(ctx, "busy", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Root, "busy")); !os.IsNotExist(err) {
		t.Fatalf("volume directory still there: %v", err)
	}
	if err := e.store.Remove(ctx, "busy", false); !errdefs.IsNotFound(err) || err.Error() != "get busy: no such volume" {
		t.Fatalf("second remove: %v", err)
	}
	if err := e.store.Remove(ctx, "busy", true); err != nil {
		t.Fatalf("forced remove of a missing volume: %v", err)
	}
	if err := e.store.Acquire(ctx, "busy", "c1"); !errdefs.IsNotFound(err) {
		t.Fatalf("acquire of a missing volume: %v", err)
	}
	if err := e.store.Release(ctx, "busy", "c1"); err != nil {
		t.Fatalf("release of a missing volume: %v", err)
	}
}

func TestStore_MountLocalPlain(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	v, err := e.store.Create(ctx, "plain", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.store.Mount(ctx, "plain", "c1")
	if err != nil || p != v.Mountpoint {
		t.Fatalf("mount: %q, %v", p, err)
	}
	if err := e.store.Remove(ctx, "plain", false); !errors.Is(err, volume.ErrInUse) {
		t.Fatalf("remove while mounted: %v", err)
	}
	e.restart(t)
	if err := e.store.Unmount(ctx, "plain", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Unmount(ctx, "plain", "c1"); err != nil {
		t.Fatalf("second unmount: %v", err)
	}
	if err := e.store.Remove(ctx, "plain", false); err != nil {
		t.Fatal(err)
	}
}

func TestStore_List(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"web-data", map[string]string{"app": "web", "tier": "front"}},
		{"db-data", map[string]string{"app": "db"}},
		{"cache", nil},
	} {
		if _, err := e.store.Create(ctx, c.name, "", nil, c.labels); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Acquire(ctx, "db-data", "c1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    filters.Args
		want []string
		bad  bool
	}{
		{name: "all", f: nil, want: []string{"cache", "db-data", "web-data"}},
		{name: "name regexp", f: filters.Args{"name": {"data$": true}}, want: []string{"db-data", "web-data"}},
		{name: "name exact", f: filters.Args{"name": {"cache": true}}, want: []string{"cache"}},
		{name: "label key", f: filters.Args{"label": {"app": true}}, want: []string{"db-data", "web-data"}},
		{name: "label value", f: filters.Args{"label": {"app=web": true}}, want: []string{"web-data"}},
		{name: "labels all match", f: filters.Args{"label": {"app": true, "tier=front": true}}, want: []string{"web-data"}},
		{name: "dangling", f: filters.Args{"dangling": {"true": true}}, want: []string{"cache", "web-data"}},
		{name: "not dangling", f: filters.Args{"dangling": {"0": true}}, want: []string{"db-data"}},
		{name: "driver", f: filters.Args{"driver": {"local": true}}, want: []string{"cache", "db-data", "web-data"}},
		{name: "other driver", f: filters.Args{"driver": {"nfsplug": true}}, want: nil},
		{name: "bad key", f: filters.Args{"until": {"1h": true}}, bad: true},
		{name: "bad dangling", f: filters.Args{"dangling": {"maybe": true}}, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, _, err := e.store.List(ctx, tt.f)
			if tt.bad {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("got %v, want invalid filter", err)
				}
				return
			}
			if err != nil || !slices.Equal(names(vs), tt.want) {
				t.Fatalf("got %v, %v; want %v", names(vs), err, tt.want)
			}
		})
	}
}

func TestStore_Prune(t *testing.T) {
	tests := []struct {
		name   string
		f      filters.Args
		all    bool
		dryRun bool
		want   []string
	}{
		{name: "anonymous only", want: []string{"anon-free"}},
		{name: "all", all: true, want: []string{"anon-free", "named-free", "named-keep"}},
		{name: "all filter", f: filters.Args{"all": {"true": true}}, want: []string{"anon-free", "named-free", "named-keep"}},
		{name: "label", all: true, f: filters.Args{"label": {"keep": true}}, want: []string{"named-keep"}},
		{name: "label not", all: true, f: filters.Args{"label!": {"keep": true}}, want: []string{"anon-free", "named-free"}},
		{name: "dry run", all: true, dryRun: true, want: []string{"anon-free", "named-free", "named-keep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := testutil.Context(t)
			anon := map[string]string{volume.AnonymousLabel: ""}
			for _, c := range []struct {
				name   string
				labels map[string]string
				opts   map[string]string
				ref    bool
			}{
				{"anon-free", anon, nil, false},
				{"anon-used", anon, nil, true},
				{"named-free", nil, nil, false},
				{"named-keep", map[string]string{"keep": "yes"}, nil, false},
				{"named-tmpfs", nil, map[string]string{"type": "tmpfs", "device": "tmpfs"}, false},
			} {
				if _, err := e.store.Create(ctx, c.name, "", c.opts, c.labels); err != nil {
					t.Fatal(err)
				}
				if c.ref {
					if err := e.store.Acquire(ctx, c.name, "c1"); err != nil {
						t.Fatal(err)
					}
				}
			}
			payload := []byte("0123456789")
			if err := os.WriteFile(filepath.Join(e.cfg.Root, "anon-free", "_data", "f"), payload, 0o644); err != nil {
				t.Fatal(err)
			}
			rep, err := e.store.Prune(ctx, tt.f, tt.all, tt.dryRun)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(rep.VolumesDeleted)
			if !slices.Equal(rep.VolumesDeleted, tt.want) {
				t.Fatalf("deleted %v, want %v", rep.VolumesDeleted, tt.want)
			}
			if slices.Contains(tt.want, "anon-free") && rep.SpaceReclaimed != uint64(len(payload)) {
				t.Fatalf("reclaimed %d", rep.SpaceReclaimed)
			}
			vs, _, _ := e.store.List(ctx, nil)
			for _, n := range tt.want {
				if slices.Contains(names(vs), n) == !tt.dryRun {
					t.Fatalf("after prune (dry run %v), %s present = %v", tt.dryRun, n, !tt.dryRun)
				}
			}
		})
	}
}

func TestStore_PruneInvalidFilters(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	for _, f := range []filters.Args{
		{"dangling": {"true": true}},
		{"all": {"maybe": true}},
		{"all": {"true": true, "false": true}},
	} {
		if _, err := e.store.Prune(ctx, f, false, false); !errdefs.IsInvalidArgument(err) {
			t.Errorf("prune %v: %v", f, err)
		}
	}
}

func TestStore_Usage(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	for _, n := range []string{"u1", "u2"} {
		if _, err := e.store.Create(ctx, n, "", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Create(ctx, "u3", "", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(e.cfg.Root, "u1", "_data")
	if err := os.WriteFile(filepath.Join(data, "a"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(data, "a"), filepath.Join(data, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Acquire(ctx, "u1", "c1"); err != nil {
		t.Fatal(err)
	}
	vs, err := e.store.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]apivolume.UsageData{}
	for _, v := range vs {
		got[v.Name] = *v.UsageData
	}
	want := map[string]apivolume.UsageData{"u1": {RefCount: 1, Size: 1000}, "u2": {Size: 0}, "u3": {Size: -1}}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %+v, want %+v", n, got[n], w)
		}
	}
}

func TestStore_SeedPlain(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub", "deep"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "deep", "f"), []byte("hello"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../elsewhere", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(src, "sub"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(src, 0o711); err != nil {
		t.Fatal(err)
	}
	v, err := e.store.Create(ctx, "seeded", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Seed(ctx, "seeded", src); err != nil {
		t.Fatal(err)
	}
	dst := v.Mountpoint
	if b, err := os.ReadFile(filepath.Join(dst, "sub", "deep", "f")); err != nil || string(b) != "hello" {
		t.Fatalf("file: %q, %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub", "deep", "f")); fi == nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("file mode %v", fi)
	}
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "../elsewhere" {
		t.Fatalf("symlink %q, %v", l, err)
	}
	if fi, _ := os.Stat(filepath.Join(dst, "sub")); fi == nil || !fi.ModTime().Equal(mtime) || fi.Mode().Perm() != 0o750 {
		t.Fatalf("dir meta %v", fi)
	}
	if fi, _ := os.Stat(dst); fi == nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("root mode %v", fi)
	}
	// Not empty any more: a second seed copies nothing.
	if err := os.WriteFile(filepath.Join(src, "new"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Seed(ctx, "seeded", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "new")); !os.IsNotExist(err) {
		t.Fatalf("seeded a non-empty volume: %v", err)
	}
	// A missing source copies nothing.
	if _, err := e.store.Create(ctx, "empty", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Seed(ctx, "empty", filepath.Join(src, "absent")); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Seed(ctx, "missing", src); !errdefs.IsNotFound(err) {
		t.Fatalf("seed of a missing volume: %v", err)
	}
	// A volume that needs a mount must be mounted first.
	if _, err := e.store.Create(ctx, "tmp", "", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Seed(ctx, "tmp", src); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("seed of an unmounted tmpfs volume: %v", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  volume.Config
		ok   bool
	}{
		{name: "default", cfg: volume.DefaultConfig(), ok: true},
		{name: "relative root", cfg: volume.Config{Root: "volumes"}},
		{name: "empty root", cfg: volume.Config{}},
		{name: "relative plugin dir", cfg: volume.Config{Root: "/v", PluginDirs: []string{"plugins"}}},
		{name: "negative timeout", cfg: volume.Config{Root: "/v", PluginTimeout: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

func TestStore_ConcurrentReferences(t *testing.T) {
	e := newEnv(t)
	ctx := testutil.Context(t)
	if _, err := e.store.Create(ctx, "hot", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	const n = 16
	errs := make(chan error, 2*n)
	for i := range n {
		id := string(rune('a' + i))
		go func() { errs <- e.store.Acquire(ctx, "hot", id) }()
		go func() { _, err := e.store.Mount(ctx, "hot", id); errs <- err }()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	err := e.store.Remove(ctx, "hot", false)
	var oe *volume.OpError
	if !errors.As(err, &oe) || len(oe.Refs) != n {
		t.Fatalf("remove: %v", err)
	}
	for i := range n {
		id := string(rune('a' + i))
		go func() { errs <- e.store.Release(ctx, "hot", id) }()
		go func() { errs <- e.store.Unmount(ctx, "hot", id) }()
	}
	for range 2 * n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Remove(ctx, "hot", false); err != nil {
		t.Fatal(err)
	}
}
