package volume

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"berth/internal/log"
	"berth/internal/volume/plugin"
)

// driver is what the store needs of a volume driver; the local driver and
// plugin adapters implement it. Methods are called with the volume's name
// lock held.
type driver interface {
	// create makes the volume and returns its host path if known.
	create(ctx context.Context, name string, opts map[string]string) (string, error)
	// remove deletes the volume and its data.
	remove(ctx context.Context, rec *record) error
	// mount makes the volume available for id and returns its host path.
	mount(ctx context.Context, rec *record, id string) (string, error)
	// unmount releases id's use; last is true when no other id mounts it.
	unmount(ctx context.Context, rec *record, id string, last bool) error
	// path returns the host path, or "" when the volume is not mounted.
	path(ctx context.Context, rec *record) (string, error)
	scope() string
}

// pluginDriver adapts a volume plugin to driver.
type pluginDriver struct {
	name   string
	source string
	addr   string
	vd     *plugin.VolumeDriver
	scp    string
	cache  *pluginCache
}

var _ driver = (*pluginDriver)(nil)

// pluginCache holds activated plugins by name. An entry is dropped when its
// plugin cannot be reached, and replaced when discovery finds the plugin at
// another address, so a restarted or moved plugin is activated again.
type pluginCache struct {
	dirs    []string
	timeout time.Duration
	mu      sync.Mutex
	m       map[string]*pluginDriver
}

// get locates and, if needed, activates plugin name. A plugin found nowhere
// is dockerd's "error looking up volume plugin NAME: plugin "NAME" not
// found" (errdefs.ErrNotFound).
func (c *pluginCache) get(ctx context.Context, name string) (*pluginDriver, error) {
	ep, err := plugin.Locate(name, c.dirs)
	if err != nil {
		return nil, fmt.Errorf("error looking up volume plugin %s: %w", name, err)
	}
	c.mu.Lock()
	d := c.m[name]
	c.mu.Unlock()
	if d != nil && d.addr == ep.Addr && d.source == ep.Source {
		return d, nil
	}
	client, err := plugin.NewClient(ep, c.timeout)
	if err != nil {
		return nil, fmt.Errorf("error looking up volume plugin %s: %w", name, err)
	}
	vd, err := plugin.NewVolumeDriver(ctx, client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("error activating volume plugin %s: %w", name, err)
	}
	scope, err := vd.Capabilities(ctx)
	if err != nil {
		log.From(ctx).Warn("volume plugin capabilities failed, using local scope", "driver", name, "err", err)
		scope = "local"
	}
	d = &pluginDriver{name: name, source: ep.Source, addr: ep.Addr, vd: vd, scp: scope, cache: c}
	c.mu.Lock()
	if old := c.m[name]; old != nil {
		old.vd.Client().Close()
	}
	c.m[name] = d
	c.mu.Unlock()
	log.From(ctx).Info("volume plugin activated", "driver", name, "addr", ep.Addr)
	return d, nil
}

// names returns the activated plugins.
func (c *pluginCache) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.m))
	for n := range c.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// check drops d from the cache when err says the plugin is unreachable.
func (d *pluginDriver) check(err error) error {
	if errors.Is(err, errdefs.ErrUnavailable) {
		d.cache.mu.Lock()
		if d.cache.m[d.name] == d {
			delete(d.cache.m, d.name)
			d.vd.Client().Close()
		}
		d.cache.mu.Unlock()
	}
	return err
}

func (d *pluginDriver) scope() string { return d.scp }

func (d *pluginDriver) create(ctx context.Context, name string, opts map[string]string) (string, error) {
	return "", d.check(d.vd.Create(ctx, name, opts))
}

func (d *pluginDriver) remove(ctx context.Context, rec *record) error {
	return d.check(d.vd.Remove(ctx, rec.Name))
}

func (d *pluginDriver) mount(ctx context.Context, rec *record, id string) (string, error) {
	p, err := d.vd.Mount(ctx, rec.Name, id)
	return p, d.check(err)
}

func (d *pluginDriver) unmount(ctx context.Context, rec *record, id string, _ bool) error {
	return d.check(d.vd.Unmount(ctx, rec.Name, id))
}

func (d *pluginDriver) path(ctx context.Context, rec *record) (string, error) {
	p, err := d.vd.Path(ctx, rec.Name)
	return p, d.check(err)
}

// validPluginVolumeName is the check for names given to a plugin: dockerd
// passes any name, but berth keys its files and records by it.
func validPluginVolumeName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return errInvalidName(name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '/' || c < 0x20 || c == 0x7f {
			return errInvalidName(name)
		}
	}
	return nil
}
