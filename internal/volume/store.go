package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	apivolume "github.com/moby/moby/api/types/volume"
	bolt "go.etcd.io/bbolt"

	"berth/internal/filters"
	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/volume/plugin"
)

// Config configures a Store.
type Config struct {
	// Root holds local volumes, <data-root>/volumes.
	Root string
	// PluginDirs are searched for volume plugins, in order; see
	// plugin.DefaultDirs.
	PluginDirs []string
	// PluginTimeout bounds each call to a plugin; zero means
	// plugin.DefaultTimeout.
	PluginTimeout time.Duration
	// Now returns the current time, for creation times.
	Now func() time.Time
	// LookupHost resolves NFS/CIFS server names; nil means the system
	// resolver.
	LookupHost func(ctx context.Context, host string) ([]string, error)
}

// DefaultConfig returns the settings dockerd uses, under /var/lib/berth.
func DefaultConfig() Config {
	return Config{
		Root:          "/var/lib/berth/volumes",
		PluginDirs:    plugin.DefaultDirs(),
		PluginTimeout: plugin.DefaultTimeout,
		Now:           time.Now,
	}
}

// Validate reports a missing or relative root or a negative timeout; it
// changes nothing.
func (c Config) Validate() error {
	if c.Root == "" || !filepath.IsAbs(c.Root) {
		return fmt.Errorf("volume root %q must be an absolute path: %w", c.Root, errdefs.ErrInvalidArgument)
	}
	if c.PluginTimeout < 0 {
		return fmt.Errorf("negative plugin timeout %s: %w", c.PluginTimeout, errdefs.ErrInvalidArgument)
	}
	for _, d := range c.PluginDirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("plugin directory %q must be an absolute path: %w", d, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

// Store manages volumes: their records in the metadata file, the local
// driver's directories and mounts, and calls to volume plugins. All methods
// are safe for concurrent use; work on one volume is serialized by name, so
// a slow plugin holds up only its own volumes.
type Store struct {
	cfg     Config
	db      *metadata.DB
	local   *local
	plugins *pluginCache
	locks   locker
	pruning atomic.Bool
}

// New returns a store over db. It creates cfg.Root; it contacts no plugin.
func New(cfg Config, db *metadata.DB) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Root, 0o701); err != nil {
		return nil, fmt.Errorf("volume root: %w", err)
	}
	return &Store{
		cfg:     cfg,
		db:      db,
		local:   &local{root: cfg.Root, lookupHost: cfg.LookupHost},
		plugins: &pluginCache{dirs: cfg.PluginDirs, timeout: cfg.PluginTimeout, m: map[string]*pluginDriver{}},
	}, nil
}

// driver returns the driver called name, looking plugins up on each use.
func (s *Store) driver(ctx context.Context, name string) (driver, error) {
	if name == LocalDriver || name == "" {
		return s.local, nil
	}
	return s.plugins.get(ctx, name)
}

// Create creates volume name with driver (LocalDriver when empty), driver
// options opts and labels. An empty name makes an anonymous volume: a random
// 64-hex name and the AnonymousLabel. Creating a volume that exists returns
// it unchanged when driver is empty or the same, as dockerd does; another
// driver is an *OpError wrapping ErrNameConflict. An invalid name or option
// is errdefs.ErrInvalidArgument; an unknown driver errdefs.ErrNotFound.
// Errors are *OpError "create NAME: …".
func (s *Store) Create(ctx context.Context, name, driverName string, opts, labels map[string]string) (apivolume.Volume, error) {
	if name == "" {
		name = randomID()
		labels = maps.Clone(labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AnonymousLabel] = ""
	}
	unlock := s.locks.lock(name)
	defer unlock()
	v, err := s.create(ctx, name, driverName, opts, labels)
	if err != nil {
		return apivolume.Volume{}, opErr("create", name, err)
	}
	return v, nil
}

func (s *Store) create(ctx context.Context, name, driverName string, opts, labels map[string]string) (apivolume.Volume, error) {
	if rec, err := s.load(name); err == nil {
		if driverName != "" && driverName != rec.Driver {
			return apivolume.Volume{}, fmt.Errorf("driver '%s' already has volume '%s': %w", rec.Driver, name, ErrNameConflict)
		}
		return s.view(ctx, rec, false), nil
	} else if !errors.Is(err, ErrNoSuchVolume) {
		return apivolume.Volume{}, err
	}
	if driverName == "" {
		driverName = LocalDriver
	}
	if driverName != LocalDriver {
		if err := validPluginVolumeName(name); err != nil {
			return apivolume.Volume{}, err
		}
	}
	d, err := s.driver(ctx, driverName)
	if err != nil {
		return apivolume.Volume{}, err
	}
	mountpoint, err := d.create(ctx, name, opts)
	if err != nil {
		return apivolume.Volume{}, err
	}
	rec := &record{
		Name:      name,
		Driver:    driverName,
		Labels:    maps.Clone(labels),
		Options:   maps.Clone(opts),
		Scope:     d.scope(),
		CreatedAt: s.cfg.Now(),
	}
	if driverName != LocalDriver {
		rec.Mountpoint = mountpoint
	}
	if err := s.save(rec); err != nil {
		// Undo the driver's work so no volume exists without a record.
		if rerr := d.remove(context.WithoutCancel(ctx), rec); rerr != nil {
			log.From(ctx).Error("volume left behind after failed create", "volume", name, "err", rerr)
		}
		return apivolume.Volume{}, fmt.Errorf("save volume record: %w", err)
	}
	log.From(ctx).Debug("volume created", "volume", name, "driver", driverName)
	return s.view(ctx, rec, false), nil
}

// view converts rec for the API. A local volume's mountpoint is its data
// path; a plugin volume shows the path last reported, refreshed from the
// plugin (with its Status) when fresh is set.
func (s *Store) view(ctx context.Context, rec *record, fresh bool) apivolume.Volume {
	if rec.Driver == LocalDriver {
		return rec.apiVolume(s.local.dataPath(rec.Name))
	}
	if !fresh {
		return rec.apiVolume(rec.Mountpoint)
	}
	d, err := s.plugins.get(ctx, rec.Driver)
	if err != nil {
		log.From(ctx).Warn("volume plugin unavailable, showing stored volume", "volume", rec.Name, "driver", rec.Driver, "err", err)
		return rec.apiVolume(rec.Mountpoint)
	}
	pv, err := d.vd.Get(ctx, rec.Name)
	if err = d.check(err); err != nil {
		log.From(ctx).Warn("volume plugin get failed, showing stored volume", "volume", rec.Name, "driver", rec.Driver, "err", err)
		return rec.apiVolume(rec.Mountpoint)
	}
	mp := pv.Mountpoint
	if mp == "" {
		mp = rec.Mountpoint
	}
	v := rec.apiVolume(mp)
	v.Status = pv.Status
	return v
}

// lookup returns the record of name, adopting a volume that an activated
// plugin has but the store does not know (created by another host or
// before the record), as dockerd probes its drivers. It returns
// ErrNoSuchVolume when nobody has it. Callers hold the name lock.
func (s *Store) lookup(ctx context.Context, name string) (*record, error) {
	rec, err := s.load(name)
	if !errors.Is(err, ErrNoSuchVolume) {
		return rec, err
	}
	if validPluginVolumeName(name) != nil {
		return nil, ErrNoSuchVolume
	}
	for _, drv := range s.pluginNames() {
		d, err := s.plugins.get(ctx, drv)
		if err != nil {
			continue
		}
		pv, err := d.vd.Get(ctx, name)
		if d.check(err) != nil {
			continue
		}
		rec := &record{Name: name, Driver: drv, Scope: d.scope(), Mountpoint: pv.Mountpoint, CreatedAt: s.cfg.Now()}
		if t, err := time.Parse(time.RFC3339, pv.CreatedAt); err == nil {
			rec.CreatedAt = t
		}
		if err := s.save(rec); err != nil {
			return nil, err
		}
		log.From(ctx).Info("volume adopted from plugin", "volume", name, "driver", drv)
		return rec, nil
	}
	return nil, ErrNoSuchVolume
}

// pluginNames returns the plugin drivers in use: those of stored volumes and
// those activated since start.
func (s *Store) pluginNames() []string {
	names := s.plugins.names()
	if recs, err := s.all(); err == nil {
		for _, r := range recs {
			if r.Driver != LocalDriver {
				names = append(names, r.Driver)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Get returns volume name, with a plugin volume's status refreshed from its
// plugin. A missing volume is an *OpError "get NAME: no such volume"
// (ErrNoSuchVolume, errdefs.ErrNotFound).
func (s *Store) Get(ctx context.Context, name string) (apivolume.Volume, error) {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.lookup(ctx, name)
	if err != nil {
		return apivolume.Volume{}, opErr("get", name, err)
	}
	return s.view(ctx, rec, true), nil
}

// List returns the volumes that pass f, sorted by name, and warnings for
// plugins that could not be listed. Accepted filters are dockerd's:
// "dangling" (true: used by no container), "name" (a regexp), "driver" and
// "label" ("k" or "k=v"). Plugin volumes the store does not know yet are
// listed too. An unknown filter is a *filters.InvalidFilterError.
func (s *Store) List(ctx context.Context, f filters.Args) ([]apivolume.Volume, []string, error) {
	if err := f.Validate(map[string]bool{"dangling": true, "name": true, "driver": true, "label": true}); err != nil {
		return nil, nil, err
	}
	var dangling *bool
	if f.Contains("dangling") {
		d, err := f.GetBoolOrDefault("dangling", false)
		if err != nil {
			return nil, nil, err
		}
		dangling = &d
	}
	recs, err := s.all()
	if err != nil {
		return nil, nil, opErr("list", "", err)
	}
	known := map[string]*record{}
	for _, r := range recs {
		known[r.Name] = r
	}
	var warnings []string
	for _, drv := range s.pluginNames() {
		if !f.ExactMatch("driver", drv) {
			continue
		}
		d, err := s.plugins.get(ctx, drv)
		if err != nil {
			warnings = append(warnings, opErr("list", drv, err).Error())
			continue
		}
		pvs, err := d.vd.List(ctx)
		if err = d.check(err); err != nil {
			warnings = append(warnings, opErr("list", drv, err).Error())
			continue
		}
		for _, pv := range pvs {
			if r := known[pv.Name]; r != nil {
				if r.Driver == drv && pv.Mountpoint != "" {
					r.Mountpoint = pv.Mountpoint
				}
				continue
			}
			if validPluginVolumeName(pv.Name) != nil {
				continue
			}
			r := &record{Name: pv.Name, Driver: drv, Scope: d.scope(), Mountpoint: pv.Mountpoint}
			if t, err := time.Parse(time.RFC3339, pv.CreatedAt); err == nil {
				r.CreatedAt = t
			}
			known[pv.Name] = r
			recs = append(recs, r)
		}
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmpString(a.Name, b.Name) })
	out := []apivolume.Volume{}
	for _, r := range recs {
		if !f.Match("name", r.Name) || !f.ExactMatch("driver", r.Driver) || !f.MatchKVList("label", r.Labels) {
			continue
		}
		if dangling != nil && (len(r.users()) == 0) != *dangling {
			continue
		}
		out = append(out, s.view(ctx, r, false))
	}
	return out, warnings, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Remove deletes volume name and its data. A volume held by a container
// (Acquire or Mount) is an *OpError "remove NAME: volume is in use - [IDS]"
// (ErrInUse, errdefs.ErrConflict), with or without force. A missing volume
// is "get NAME: no such volume" unless force is set. With force, a driver
// that fails or is gone does not keep the record: it is dropped and the
// failure logged.
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.lookup(ctx, name)
	if err != nil {
		if force && errors.Is(err, ErrNoSuchVolume) {
			return nil
		}
		return opErr("get", name, err)
	}
	return s.remove(ctx, rec, force)
}

// remove deletes rec; the caller holds its name lock.
func (s *Store) remove(ctx context.Context, rec *record, force bool) error {
	if users := rec.users(); len(users) > 0 {
		return &OpError{Op: "remove", Name: rec.Name, Err: ErrInUse, Refs: users}
	}
	d, err := s.driver(ctx, rec.Driver)
	if err == nil {
		err = d.remove(ctx, rec)
	}
	if err != nil {
		if !force {
			return opErr("remove", rec.Name, err)
		}
		log.From(ctx).Warn("volume driver failed to remove, dropping the volume anyway", "volume", rec.Name, "driver", rec.Driver, "err", err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error { return metadata.Delete(tx, metadata.BucketVolumes, rec.Name) })
	if err != nil {
		return opErr("remove", rec.Name, err)
	}
	log.From(ctx).Debug("volume removed", "volume", rec.Name)
	return nil
}

// Acquire records that container id uses volume name, which keeps it from
// being removed or pruned until Release. It is idempotent. A missing volume
// is an *OpError "get NAME: no such volume".
func (s *Store) Acquire(ctx context.Context, name, id string) error {
	return s.update(ctx, name, func(rec *record) error {
		if !slices.Contains(rec.Refs, id) {
			rec.Refs = append(rec.Refs, id)
			slices.Sort(rec.Refs)
		}
		return nil
	})
}

// Release drops container id's use of volume name. Releasing an id that
// holds nothing, or a volume that is gone, is not an error.
func (s *Store) Release(ctx context.Context, name, id string) error {
	err := s.update(ctx, name, func(rec *record) error {
		rec.Refs = slices.DeleteFunc(rec.Refs, func(r string) bool { return r == id })
		return nil
	})
	if errors.Is(err, ErrNoSuchVolume) {
		return nil
	}
	return err
}

// ReleaseAll drops every reference container id holds, for a container that
// is removed. Mounts are not touched: they are undone with Unmount.
func (s *Store) ReleaseAll(ctx context.Context, id string) error {
	recs, err := s.all()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range recs {
		if slices.Contains(r.Refs, id) {
			errs = append(errs, s.Release(ctx, r.Name, id))
		}
	}
	return errors.Join(errs...)
}

// update loads name under its lock, applies fn and saves the result.
func (s *Store) update(ctx context.Context, name string, fn func(*record) error) error {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.lookup(ctx, name)
	if err != nil {
		return opErr("get", name, err)
	}
	if err := fn(rec); err != nil {
		return err
	}
	return s.save(rec)
}

// Mount makes volume name available to id (a container) and returns its
// host path. A local volume with options is mounted on its first use; a
// plugin gets a Mount call for every id. Mounting twice for one id is
// idempotent. Mount ids are stored, so Unmount works across a daemon
// restart. Errors are *OpError "mount NAME: …".
func (s *Store) Mount(ctx context.Context, name, id string) (string, error) {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.lookup(ctx, name)
	if err != nil {
		return "", opErr("get", name, err)
	}
	d, err := s.driver(ctx, rec.Driver)
	if err != nil {
		return "", opErr("mount", name, err)
	}
	already := slices.Contains(rec.Mounts, id)
	if already && rec.Driver != LocalDriver && rec.Mountpoint != "" {
		// The plugin counts mounts per call: do not count this id twice.
		return rec.Mountpoint, nil
	}
	p, err := d.mount(ctx, rec, id)
	if err != nil {
		return "", opErr("mount", name, err)
	}
	if already && rec.Mountpoint == p {
		return p, nil
	}
	if !already {
		rec.Mounts = append(rec.Mounts, id)
		slices.Sort(rec.Mounts)
	}
	if rec.Driver != LocalDriver {
		rec.Mountpoint = p
	}
	if err := s.save(rec); err != nil {
		if !already {
			uctx := context.WithoutCancel(ctx)
			if uerr := d.unmount(uctx, rec, id, len(rec.Mounts) == 1); uerr != nil {
				log.From(ctx).Error("volume left mounted after failed mount", "volume", name, "err", uerr)
			}
		}
		return "", opErr("mount", name, err)
	}
	return p, nil
}

// Unmount ends id's use of volume name from Mount; the local driver
// unmounts a volume with options when its last id goes. Unmounting an id
// that has no mount is not an error. Errors are *OpError "unmount NAME: …",
// and leave the id recorded so the call can be retried.
func (s *Store) Unmount(ctx context.Context, name, id string) error {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.load(name)
	if errors.Is(err, ErrNoSuchVolume) {
		return nil
	}
	if err != nil {
		return opErr("unmount", name, err)
	}
	if !slices.Contains(rec.Mounts, id) {
		return nil
	}
	d, err := s.driver(ctx, rec.Driver)
	if err != nil {
		return opErr("unmount", name, err)
	}
	rest := slices.DeleteFunc(slices.Clone(rec.Mounts), func(m string) bool { return m == id })
	if err := d.unmount(ctx, rec, id, len(rest) == 0); err != nil {
		return opErr("unmount", name, err)
	}
	rec.Mounts = rest
	if err := s.save(rec); err != nil {
		return opErr("unmount", name, err)
	}
	return nil
}

// Prune removes unused local volumes without driver options (which hold no
// space here) that pass f: by default only anonymous ones, as dockerd 23+
// does, all of them when all is set or f has "all=true". Filters "label"
// and "label!" select by label. With dryRun nothing is removed and the
// report says what would be. A prune already running is errdefs.ErrConflict.
func (s *Store) Prune(ctx context.Context, f filters.Args, all, dryRun bool) (apivolume.PruneReport, error) {
	rep := apivolume.PruneReport{VolumesDeleted: []string{}}
	if err := f.Validate(map[string]bool{"label": true, "label!": true, "all": true}); err != nil {
		return rep, err
	}
	if f.Contains("all") {
		vals := f.Get("all")
		a, err := f.GetBoolOrDefault("all", false)
		if err != nil || len(vals) != 1 {
			return rep, &filters.InvalidFilterError{Filter: "all", Values: vals}
		}
		all = all || a
	}
	if !s.pruning.CompareAndSwap(false, true) {
		return rep, &classError{msg: "a prune operation is already running", class: errdefs.ErrConflict}
	}
	defer s.pruning.Store(false)
	recs, err := s.all()
	if err != nil {
		return rep, err
	}
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return rep, err
		}
		if !prunable(r, f, all) {
			continue
		}
		size, err := s.pruneOne(ctx, r.Name, f, all, dryRun)
		if err != nil {
			log.From(ctx).Warn("could not prune volume", "volume", r.Name, "err", err)
			continue
		}
		if size < 0 {
			continue
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, r.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

func prunable(r *record, f filters.Args, all bool) bool {
	return r.Driver == LocalDriver && len(r.Options) == 0 && len(r.users()) == 0 &&
		(all || r.anonymous()) && f.MatchLabels("label", r.Labels)
}

// pruneOne removes name if it is still prunable under its lock and returns
// the space it held; -1 when it no longer qualifies.
func (s *Store) pruneOne(ctx context.Context, name string, f filters.Args, all, dryRun bool) (int64, error) {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.load(name)
	if err != nil || !prunable(rec, f, all) {
		return -1, nil
	}
	size, err := dirSize(ctx, s.local.dataPath(name))
	if err != nil {
		log.From(ctx).Warn("could not determine size of volume", "volume", name, "err", err)
	}
	if dryRun {
		return size, nil
	}
	if err := s.remove(ctx, rec, false); err != nil {
		return -1, err
	}
	return size, nil
}

// Usage returns every volume with UsageData for `system df`: RefCount is
// the number of containers using it, Size the bytes of a local volume
// without options and -1 for the others, as dockerd reports.
func (s *Store) Usage(ctx context.Context) ([]apivolume.Volume, error) {
	recs, err := s.all()
	if err != nil {
		return nil, err
	}
	out := make([]apivolume.Volume, 0, len(recs))
	for _, r := range recs {
		v := s.view(ctx, r, false)
		u := &apivolume.UsageData{RefCount: int64(len(r.users())), Size: -1}
		if r.Driver == LocalDriver && len(r.Options) == 0 {
			size, err := dirSize(ctx, s.local.dataPath(r.Name))
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				log.From(ctx).Warn("could not determine size of volume", "volume", r.Name, "err", err)
			} else {
				u.Size = size
			}
		}
		v.UsageData = u
		out = append(out, v)
	}
	return out, nil
}

// randomID returns 32 random bytes in hex, dockerd's anonymous volume name.
func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
