package volume

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	apivolume "github.com/moby/moby/api/types/volume"
	bolt "go.etcd.io/bbolt"

	"berth/internal/metadata"
)

// AnonymousLabel marks a volume created without a name, as dockerd 23+ does;
// prune removes only such volumes unless asked for all.
const AnonymousLabel = "com.docker.volume.anonymous"

// record is what the store keeps for a volume in bucket "volumes".
type record struct {
	Name      string            `json:"name"`
	Driver    string            `json:"driver"`
	Labels    map[string]string `json:"labels"`
	Options   map[string]string `json:"options"`
	Scope     string            `json:"scope"`
	CreatedAt time.Time         `json:"createdAt"`
	// Mountpoint is the last host path a plugin reported.
	Mountpoint string `json:"mountpoint,omitempty"`
	// Refs are the containers that use the volume (Acquire/Release).
	Refs []string `json:"refs,omitempty"`
	// Mounts are the ids the volume is mounted for (Mount/Unmount).
	Mounts []string `json:"mounts,omitempty"`
}

// users returns the sorted union of refs and mount ids.
func (r *record) users() []string {
	out := slices.Concat(r.Refs, r.Mounts)
	slices.Sort(out)
	return slices.Compact(out)
}

func (r *record) anonymous() bool {
	_, ok := r.Labels[AnonymousLabel]
	return ok
}

func loadRecord(tx *bolt.Tx, name string) (*record, error) {
	var r record
	if err := metadata.GetJSON(tx, metadata.BucketVolumes, name, &r); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, ErrNoSuchVolume
		}
		return nil, err
	}
	return &r, nil
}

func (s *Store) load(name string) (*record, error) {
	var r *record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = loadRecord(tx, name)
		return err
	})
	return r, err
}

func (s *Store) save(r *record) error {
	return s.db.Update(func(tx *bolt.Tx) error { return metadata.PutJSON(tx, metadata.BucketVolumes, r.Name, r) })
}

// all returns every record, sorted by name.
func (s *Store) all() ([]*record, error) {
	var out []*record
	err := s.db.View(func(tx *bolt.Tx) error {
		return metadata.ForEach(tx, metadata.BucketVolumes, func(key string, raw []byte) error {
			var r record
			if err := json.Unmarshal(raw, &r); err != nil {
				return errors.Join(err, errdefs.ErrDataLoss)
			}
			out = append(out, &r)
			return nil
		})
	})
	return out, err
}

// apiVolume converts a record to the Engine API type; mountpoint is the
// host path to show.
func (r *record) apiVolume(mountpoint string) apivolume.Volume {
	v := apivolume.Volume{
		Name:       r.Name,
		Driver:     r.Driver,
		Mountpoint: mountpoint,
		Labels:     maps.Clone(r.Labels),
		Options:    maps.Clone(r.Options),
		Scope:      r.Scope,
	}
	if !r.CreatedAt.IsZero() {
		v.CreatedAt = r.CreatedAt.Format(time.RFC3339)
	}
	return v
}

// locker serializes work on one volume name without blocking others.
type locker struct {
	mu sync.Mutex
	m  map[string]*lockEntry
}

type lockEntry struct {
	mu sync.Mutex
	n  int
}

// lock locks name and returns its unlock.
func (l *locker) lock(name string) func() {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*lockEntry{}
	}
	e := l.m[name]
	if e == nil {
		e = &lockEntry{}
		l.m[name] = e
	}
	e.n++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		e.n--
		if e.n == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}
