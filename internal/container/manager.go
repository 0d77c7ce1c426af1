package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	bolt "go.etcd.io/bbolt"

	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/runtime/oci"
)

// Config configures a Manager.
type Config struct {
	// DataRoot and ExecRoot are the daemon's --data-root and --exec-root.
	DataRoot string
	ExecRoot string
	// Shim is the binary run as `SHIM shim CONFIG` for each container start
	// and exec, and bind-mounted as docker-init: berth-shim, or berthd itself.
	Shim string
	// Runtimes are the OCI runtimes by name; DefaultRuntime names the default.
	Runtimes       map[string]oci.Runtime
	DefaultRuntime string
	// LogDriver and LogOpts are the daemon's log defaults.
	LogDriver string
	LogOpts   map[string]string
	// CgroupParent is the cgroup under which containers are placed.
	CgroupParent string
	// Now returns the current time (injected for tests).
	Now func() time.Time
}

// Manager owns all containers of a daemon.
type Manager struct {
	cfg    Config
	db     *metadata.DB
	images Images
	rootfs RootFS
	events Publisher
	// volumes is nil when the daemon runs without a volume store.
	volumes Volumes
	// networks is nil when the daemon runs without networking (loopback only).
	networks Networks

	mu      sync.Mutex
	byID    map[string]*entry
	byName  map[string]string // name → id
	execs   map[string]*Exec  // exec ID → exec
	wg      sync.WaitGroup
	baseCtx context.Context
}

// New returns a manager; call Restore before serving requests. vols may be
// nil (no volume support).
func New(cfg Config, db *metadata.DB, images Images, rootfs RootFS, vols Volumes, nets Networks, pub Publisher) (*Manager, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "berth"
	}
	if cfg.DefaultRuntime == "" {
		cfg.DefaultRuntime = "runc"
	}
	if _, ok := cfg.Runtimes[cfg.DefaultRuntime]; !ok {
		return nil, fmt.Errorf("default runtime %q is not configured: %w", cfg.DefaultRuntime, errdefs.ErrInvalidArgument)
	}
	for _, d := range []string{filepath.Join(cfg.DataRoot, "containers"), filepath.Join(cfg.ExecRoot, "containers"), filepath.Join(cfg.ExecRoot, "s")} {
		if err := os.MkdirAll(d, 0o710); err != nil {
			return nil, fmt.Errorf("container dirs: %w", err)
		}
	}
	return &Manager{
		cfg: cfg, db: db, images: images, rootfs: rootfs, events: pub, volumes: vols, networks: nets,
		byID: map[string]*entry{}, byName: map[string]string{}, execs: map[string]*Exec{},
		baseCtx: context.Background(),
	}, nil
}

func (m *Manager) bundleDir(id string) string { return filepath.Join(m.cfg.ExecRoot, "containers", id) }
func (m *Manager) shimDir(id string) string   { return filepath.Join(m.bundleDir(id), "shim") }
func (m *Manager) dataDir(id string) string   { return filepath.Join(m.cfg.DataRoot, "containers", id) }
func (m *Manager) socket(id string) string {
	return filepath.Join(m.cfg.ExecRoot, "s", id[:16]+".sock")
}

func (m *Manager) runtime(name string) (*oci.Runtime, error) {
	if name == "" {
		name = m.cfg.DefaultRuntime
	}
	rt, ok := m.cfg.Runtimes[name]
	if !ok {
		return nil, errorf(errdefs.ErrInvalidArgument, "unknown or invalid runtime name: %s", name)
	}
	return &rt, nil
}

func newID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// persist writes the entry's record. The caller holds e.mu.
func (m *Manager) persist(e *entry) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		return metadata.PutJSON(tx, metadata.BucketContainers, e.rec.ID, &e.rec)
	})
}

// setState applies fn to the record, persists it and wakes waiters. The
// caller holds e.mu.
func (m *Manager) setState(ctx context.Context, e *entry, fn func(s *State)) {
	fn(&e.rec.State)
	if err := m.persist(e); err != nil {
		log.From(ctx).Error("persist container state", "container", e.rec.ID, "err", err)
	}
	e.notify()
}

func (m *Manager) publish(e *entry, action events.Action, extra map[string]string) {
	if m.events == nil {
		return
	}
	attrs := map[string]string{"name": e.rec.Name, "image": e.rec.ImageRef}
	for k, v := range e.rec.Config.Labels {
		attrs[k] = v
	}
	for k, v := range extra {
		attrs[k] = v
	}
	m.events.Publish(events.ContainerEventType, action, events.Actor{ID: e.rec.ID, Attributes: attrs})
}

// lookup finds a container by full ID, name (with or without "/") or a
// unique ID prefix, as Docker does.
func (m *Manager) lookup(ref string) (*entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ref == "" {
		return nil, errNoSuchContainer(ref)
	}
	if e, ok := m.byID[ref]; ok {
		return e, nil
	}
	if id, ok := m.byName[strings.TrimPrefix(ref, "/")]; ok {
		return m.byID[id], nil
	}
	var found *entry
	for id, e := range m.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errorf(errdefs.ErrInvalidArgument, "multiple IDs found with provided prefix: %s", ref)
			}
			found = e
		}
	}
	if found == nil {
		return nil, errNoSuchContainer(ref)
	}
	return found, nil
}

// IDs returns the IDs of all containers, sorted by creation, newest first.
func (m *Manager) entries() []*entry {
	m.mu.Lock()
	list := make([]*entry, 0, len(m.byID))
	for _, e := range m.byID {
		list = append(list, e)
	}
	m.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].rec.Created.After(list[j].rec.Created) })
	return list
}

// ImageInUse reports whether any container uses imageID, and whether one
// of those is running.
func (m *Manager) ImageInUse(imageID string) (containerID string, running bool, used bool) {
	for _, e := range m.entries() {
		e.mu.Lock()
		img, run, id := e.rec.Image, e.running(), e.rec.ID
		e.mu.Unlock()
		if img != imageID {
			continue
		}
		if run {
			return id, true, true
		}
		containerID, used = id, true
	}
	return containerID, false, used
}

// Restore loads all records, reconnects to the shims of running containers
// and applies exits that happened while the daemon was down. ctx bounds the
// monitors started here and later: they end when it ends.
func (m *Manager) Restore(ctx context.Context) error {
	m.baseCtx = ctx
	var recs []Record
	err := m.db.View(func(tx *bolt.Tx) error {
		return metadata.ForEach(tx, metadata.BucketContainers, func(k string, raw []byte) error {
			var r Record
			if err := json.Unmarshal(raw, &r); err != nil {
				log.From(ctx).Warn("skip unreadable container record", "container", k, "err", err)
				return nil
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("load containers: %w", err)
	}
	m.removeOrphans(ctx, recs)
	for _, r := range recs {
		e := &entry{rec: r, changed: make(chan struct{}), removed: make(chan struct{}), execs: map[string]*Exec{}}
		m.mu.Lock()
		m.byID[r.ID] = e
		m.byName[r.Name] = r.ID
		m.mu.Unlock()
	}
	for _, e := range m.entries() {
		e.mu.Lock()
		st := e.rec.State.Status
		switch st {
		case container.StateRunning, container.StatePaused:
			e.exited = make(chan struct{})
			m.wg.Add(1)
			go m.monitor(ctx, e, e.exited)
			log.From(ctx).Info("restored running container", "container", e.rec.ID)
		case container.StateRestarting:
			// The back-off timer died with the old daemon: start again now.
			e.rec.State.Status = container.StateExited
			go func(e *entry) { _ = m.Start(ctx, e.rec.ID) }(e)
		case container.StateRemoving, container.StateDead:
			go func(id string) { _ = m.Remove(ctx, id, RemoveOptions{Force: true}) }(e.rec.ID)
		default:
			if e.rec.HostConfig != nil && e.rec.HostConfig.RestartPolicy.Name == container.RestartPolicyAlways && e.rec.State.StartedBefore {
				// "always" brings containers back when the daemon starts, even after a manual stop.
				go func(id string) { _ = m.Start(ctx, id) }(e.rec.ID)
			}
		}
		e.mu.Unlock()
	}
	return nil
}

// removeOrphans deletes container directories and writable layers that no
// record names: what a crash during a removal left behind.
func (m *Manager) removeOrphans(ctx context.Context, recs []Record) {
	known := map[string]bool{}
	for _, r := range recs {
		known[r.ID] = true
	}
	for _, dir := range []string{filepath.Join(m.cfg.DataRoot, "containers"), filepath.Join(m.cfg.ExecRoot, "containers")} {
		entries, _ := os.ReadDir(dir)
		for _, de := range entries {
			id := de.Name()
			if known[id] || len(id) != 64 {
				continue
			}
			log.From(ctx).Info("removing leftovers of a deleted container", "container", id)
			_ = m.rootfs.Unmount(ctx, filepath.Join(m.bundleDir(id), "rootfs"))
			_ = m.rootfs.Remove(ctx, id)
			_ = os.RemoveAll(filepath.Join(dir, id))
		}
	}
}

// Close waits for monitors and background clean-ups to end (monitors end
// when the restore context ended).
func (m *Manager) Close() { m.wg.Wait() }

// Runtimes returns the configured runtimes' binaries by name.
func (m *Manager) Runtimes() map[string]string {
	out := map[string]string{}
	for n, rt := range m.cfg.Runtimes {
		out[n] = rt.Path
	}
	return out
}

// ImageUser is a container that uses an image.
type ImageUser struct {
	ID      string
	Running bool
}

// ImageUsers lists the containers that use imageID.
func (m *Manager) ImageUsers(imageID string) []ImageUser {
	var out []ImageUser
	for _, e := range m.entries() {
		e.mu.Lock()
		if e.rec.Image == imageID {
			out = append(out, ImageUser{ID: e.rec.ID, Running: e.running() || e.restartCancel != nil})
		}
		e.mu.Unlock()
	}
	return out
}

// Running reports whether the container id runs (for the network restore).
func (m *Manager) Running(id string) bool {
	m.mu.Lock()
	e, ok := m.byID[id]
	m.mu.Unlock()
	if !ok {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running()
}
