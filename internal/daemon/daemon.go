// Package daemon is berthd's composition root: it builds every component
// from the configuration, wires them through their consumer interfaces,
// restores running containers and serves the Engine API until its context
// ends. Containers keep running when the daemon stops.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"

	"berth/internal/api/router/container"
	distributionrouter "berth/internal/api/router/distribution"
	imagerouter "berth/internal/api/router/image"
	networkrouter "berth/internal/api/router/network"
	"berth/internal/api/router/system"
	volumerouter "berth/internal/api/router/volume"
	"berth/internal/api/server"
	"berth/internal/config"
	ctr "berth/internal/container"
	"berth/internal/content"
	"berth/internal/distribution"
	"berth/internal/events"
	"berth/internal/image"
	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/network"
	"berth/internal/runtime/oci"
	"berth/internal/snapshot"
	"berth/internal/volume"
)

// Version is berth's engine version.
const Version = "0.1.0"

// Daemon is a running berthd.
type Daemon struct {
	cfg        config.Daemon
	db         *metadata.DB
	content    *content.Store
	snap       snapshot.Snapshotter
	images     *image.Store
	dist       *distribution.Client
	volumes    *volume.Store
	networks   *network.Manager
	containers *ctr.Manager
	events     *events.Bus
	api        *server.Server
	started    time.Time
	id         string
}

// New builds the daemon's components. self is the berthd binary, which is
// re-executed for shims and bind-mounted as docker-init.
func New(ctx context.Context, cfg config.Daemon, self string) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	db, err := metadata.Open(filepath.Join(cfg.DataRoot, "berth.db"))
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, db: db, started: time.Now()}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	if d.content, err = content.New(filepath.Join(cfg.DataRoot, "content")); err != nil {
		return nil, err
	}
	if d.snap, err = newSnapshotter(ctx, filepath.Join(cfg.DataRoot, "snapshots")); err != nil {
		return nil, err
	}
	d.events = events.NewBus(1024, time.Now)
	d.images = image.New(db, d.content, d.snap, d.events, time.Now)
	if d.dist, err = newDistribution(cfg, d); err != nil {
		return nil, err
	}
	vcfg := volume.DefaultConfig()
	vcfg.Root = filepath.Join(cfg.DataRoot, "volumes")
	if d.volumes, err = volume.New(vcfg, db); err != nil {
		return nil, err
	}
	ncfg, err := networkConfig(cfg)
	if err != nil {
		return nil, err
	}
	if d.networks, err = network.New(ctx, ncfg, db, d.events); err != nil {
		return nil, fmt.Errorf("networking: %w", err)
	}
	runtimes, err := runtimesOf(cfg)
	if err != nil {
		return nil, err
	}
	d.containers, err = ctr.New(ctr.Config{
		DataRoot: cfg.DataRoot, ExecRoot: cfg.ExecRoot, Shim: shimBinary(self),
		Runtimes: runtimes, DefaultRuntime: cfg.DefaultRuntime,
		LogDriver: cfg.LogDriver, LogOpts: cfg.LogOpts, CgroupParent: cfg.CgroupParent,
	}, db, imageResolver{d.images}, rootFS{d.snap}, d.volumes, networks{d.networks}, d.events)
	if err != nil {
		return nil, err
	}
	d.id = daemonID(cfg.DataRoot)
	d.api = server.New(ctx, Version)
	for _, r := range []server.Router{
		system.New(d),
		container.New(containerBackend{d.containers, committer{d.images, d.content, time.Now}}),
		imagerouter.New(imageBackend{d}),
		distributionrouter.New(distributionBackend{d}),
		volumerouter.New(d.volumes, d.events),
		networkrouter.New(d.networks, d.containers),
	} {
		r.Routes(d.api)
	}
	ok = true
	return d, nil
}

// shimBinary is the small berth-shim installed beside berthd, or berthd
// itself (which can act as the shim too) when there is none.
func shimBinary(self string) string {
	p := filepath.Join(filepath.Dir(self), "berth-shim")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return self
}

// newSnapshotter picks overlay when the kernel and the data root's file
// system support it, and the copy driver otherwise.
func newSnapshotter(ctx context.Context, root string) (snapshot.Snapshotter, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if err := snapshot.CheckOverlay(ctx, root); err == nil {
		return snapshot.NewOverlay(filepath.Join(root, "overlay"))
	} else {
		log.From(ctx).Warn("overlayfs unavailable, using the copy snapshotter", "err", err)
	}
	return snapshot.NewCopy(filepath.Join(root, "copy"))
}

func runtimesOf(cfg config.Daemon) (map[string]oci.Runtime, error) {
	out := map[string]oci.Runtime{}
	for _, name := range []string{"runc", "crun"} {
		if p, err := exec.LookPath(name); err == nil {
			out[name] = oci.Runtime{Name: name, Path: p, Root: filepath.Join(cfg.ExecRoot, "runtime-"+name)}
		}
	}
	for name, rt := range cfg.Runtimes {
		p, err := exec.LookPath(rt.Path)
		if err != nil {
			return nil, fmt.Errorf("runtime %s: %w", name, err)
		}
		out[name] = oci.Runtime{Name: name, Path: p, Root: filepath.Join(cfg.ExecRoot, "runtime-"+name)}
	}
	if _, ok := out[cfg.DefaultRuntime]; !ok {
		return nil, fmt.Errorf("default runtime %q not found (is runc installed?)", cfg.DefaultRuntime)
	}
	return out, nil
}

// daemonID is a stable identifier for /info, kept in the data root.
func daemonID(root string) string {
	p := filepath.Join(root, "engine-id")
	if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
		return string(b)
	}
	id := ctrNewID()
	_ = os.WriteFile(p, []byte(id), 0o600)
	return id
}

// Run restores containers and serves the API until ctx ends. It writes the
// pidfile while it runs.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.db.Close()
	if d.cfg.Pidfile != "" {
		if err := writePidfile(d.cfg.Pidfile); err != nil {
			return err
		}
		defer os.Remove(d.cfg.Pidfile)
	}
	if err := d.containers.Restore(ctx); err != nil {
		return err
	}
	if err := d.networks.Restore(ctx, d.containers.Running); err != nil {
		return fmt.Errorf("restore networks: %w", err)
	}
	var listeners []net.Listener
	for _, h := range d.cfg.Hosts {
		p, _ := config.SocketPath(h)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		l, err := server.Listen(p)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
		log.From(ctx).Info("API listening", "socket", p)
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range listeners {
		g.Go(func() error { return d.api.Serve(gctx, l) })
	}
	err := g.Wait()
	d.containers.Close()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func writePidfile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil && pid != os.Getpid() {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
				return fmt.Errorf("pid file found, ensure berthd is not running or delete %s", path)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())), 0o644)
}
