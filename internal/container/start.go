package container

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"berth/internal/log"
	"berth/internal/network/dns"
	"berth/internal/runtime/oci"
	"berth/internal/runtime/shim"
	"berth/internal/runtime/spec"
)

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Start starts a created or stopped container. Starting a running
// container is NotModified, as in Docker.
func (m *Manager) Start(ctx context.Context, ref string) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return m.startLocked(ctx, e, false)
}

func (m *Manager) startLocked(ctx context.Context, e *entry, restart bool) error {
	switch e.rec.State.Status {
	case container.StateRunning, container.StatePaused:
		return fmt.Errorf("container already started: %w", errdefs.ErrNotModified)
	case container.StateRemoving, container.StateDead:
		return errorf(errdefs.ErrConflict, "container is marked for removal and cannot be started")
	}
	if e.restartCancel != nil && !restart {
		e.restartCancel()
		e.restartCancel = nil
	}
	id := e.rec.ID
	rt, err := m.runtime(e.rec.Runtime)
	if err != nil {
		return err
	}
	// Run with a context that outlives the request: a half-done start is
	// rolled back, never abandoned.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	fail := func(err error) error {
		code := oci.ExitCodeFor(err)
		if code == 0 {
			code = 128
		}
		e.rec.State.ExitCode = code
		e.rec.State.Error = err.Error()
		if e.rec.State.Status != container.StateCreated {
			e.rec.State.Status = container.StateExited
		}
		e.rec.State.FinishedAt = m.cfg.Now().UTC()
		m.setState(sctx, e, func(*State) {})
		m.failPending(e, err)
		if e.rec.HostConfig.AutoRemove && !e.removing {
			// Docker removes an auto-remove container whose start failed.
			id := e.rec.ID
			go func() { _ = m.Remove(m.baseCtx, id, RemoveOptions{Force: true, Volumes: true}) }()
		}
		return err
	}
	bundle := m.bundleDir(id)
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fail(fmt.Errorf("bundle: %w", err))
	}
	_ = m.rootfs.Unmount(sctx, rootfs) // left over from a crash
	if err := m.rootfs.Mount(sctx, id, rootfs); err != nil {
		return fail(fmt.Errorf("mount rootfs: %w", err))
	}
	unmount := func() {
		if err := m.rootfs.Unmount(sctx, rootfs); err != nil {
			log.From(ctx).Warn("unmount rootfs", "container", id, "err", err)
		}
	}
	var volumeBinds []string
	if m.volumes != nil && len(e.rec.Volumes) > 0 {
		volumeBinds, err = m.mountVolumes(sctx, e, rootfs)
		if err != nil {
			unmount()
			return fail(err)
		}
		inner := unmount
		unmount = func() { m.unmountVolumes(sctx, e); inner() }
	}
	var netRes *NetResult
	if m.networks != nil && needsSandbox(e.rec.HostConfig.NetworkMode) {
		r, err := m.networks.Setup(sctx, m.netRequest(e))
		if err != nil {
			unmount()
			return fail(err)
		}
		netRes = &r
		inner := unmount
		unmount = func() {
			if err := m.networks.Teardown(sctx, id); err != nil {
				log.From(ctx).Warn("tear down network", "container", id, "err", err)
			}
			inner()
		}
	}
	s, err := m.buildSpec(sctx, e, rootfs, volumeBinds, netRes)
	if err != nil {
		unmount()
		return fail(err)
	}
	b, err := json.Marshal(s)
	if err == nil {
		err = os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600)
	}
	if err != nil {
		unmount()
		return fail(fmt.Errorf("write spec: %w", err))
	}
	if _, err := os.Stat(filepath.Join(rt.Root, id)); err == nil {
		_ = rt.Delete(sctx, id, true) // stale runtime state from a crash
	}
	hc := e.rec.HostConfig
	tSpawn := time.Now()
	proc, err := shim.Spawn(sctx, m.cfg.Shim, shim.Config{
		ID: id, Runtime: *rt, Bundle: bundle, StateDir: m.shimDir(id), Socket: m.socket(id),
		Tty: e.rec.Config.Tty, OpenStdin: e.rec.Config.OpenStdin, StdinOnce: e.rec.Config.StdinOnce,
		LogDriver: hc.LogConfig.Type, LogPath: e.rec.LogPath, LogOpts: hc.LogConfig.Config,
		CgroupPath: m.cfg.CgroupParent + "/" + id,
		// Create and start in one runtime call; the shim holds output back
		// until the waiting clients attached.
		StartNow: true, AttachWait: len(e.pending),
	})
	if err != nil {
		unmount()
		return fail(fmt.Errorf("failed to create task for container: %w", err))
	}
	client := shim.Client{Socket: proc.Socket}
	tStart := time.Now()
	pid := proc.Pid
	m.connectPending(sctx, e, client)
	e.exited = make(chan struct{})
	now := m.cfg.Now().UTC()
	if netRes != nil {
		e.rec.Net = &NetState{SandboxKey: netRes.NSPath, Networks: netRes.Networks, Ports: netRes.Ports}
	}
	m.setState(sctx, e, func(st *State) {
		st.Status = container.StateRunning
		st.Pid = pid
		st.ExitCode = 0
		st.Error = ""
		st.OOMKilled = false
		st.StartedAt = now
		st.FinishedAt = time.Time{}
		st.ManuallyStopped = false
		st.StartedBefore = true
	})
	m.publish(e, events.ActionStart, nil)
	m.startHealth(e)
	log.From(ctx).Debug("container started", "container", id, "spawn", tStart.Sub(tSpawn), "attach", time.Since(tStart))
	m.wg.Add(1)
	go m.monitor(m.baseCtx, e, e.exited)
	return nil
}

// buildSpec turns the record into an OCI spec for rootfs.
func (m *Manager) buildSpec(ctx context.Context, e *entry, rootfs string, volumeBinds []string, net *NetResult) (*specs.Spec, error) {
	etc, err := m.writeEtcFiles(e, net)
	if err != nil {
		return nil, err
	}
	in := spec.Input{
		ID: e.rec.ID, Rootfs: rootfs, Args: append([]string{e.rec.Path}, e.rec.Args...),
		Config: e.rec.Config, HostConfig: specHostConfig(e.rec.HostConfig, volumeBinds), Hostname: e.rec.Config.Hostname,
		EtcFiles: etc, InitPath: m.cfg.Shim, CgroupsPath: "/" + m.cfg.CgroupParent + "/" + e.rec.ID,
	}
	nm := e.rec.HostConfig.NetworkMode
	if net != nil {
		in.NetNSPath = net.NSPath
	}
	for _, j := range []struct {
		ref  string
		kind string
		dst  *string
	}{
		{e.rec.HostConfig.PidMode.Container(), "pid", &in.PIDNSPath},
		{e.rec.HostConfig.IpcMode.Container(), "ipc", &in.IPCNSPath},
	} {
		if j.ref == "" {
			continue
		}
		p, err := m.namespaceOf(j.ref, j.kind)
		if err != nil {
			return nil, err
		}
		*j.dst = p
	}
	if nm.IsContainer() {
		other, err := m.lookup(nm.ConnectedContainer())
		if err != nil {
			return nil, err
		}
		pid := other.rec.State.Pid
		if other.rec.State.Status != container.StateRunning || pid == 0 {
			return nil, errorf(errdefs.ErrConflict, "cannot join network namespace of a non running container: %s", other.rec.ID)
		}
		in.NetNSPath = "/proc/" + strconv.Itoa(pid) + "/ns/net"
	}
	return spec.Generate(ctx, in)
}

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and
// /etc/resolv.conf, as Docker generates them.
func (m *Manager) writeEtcFiles(e *entry, net *NetResult) (map[string]string, error) {
	dir := m.dataDir(e.rec.ID)
	hc := e.rec.HostConfig
	hostname := e.rec.Config.Hostname
	var hosts, resolv []byte
	switch {
	case net != nil:
		hosts, resolv = net.Hosts, net.ResolvConf
	case hc.NetworkMode.IsHost():
		// As Docker: the host's own files.
		hosts, _ = os.ReadFile("/etc/hosts")
		resolv, _ = os.ReadFile("/etc/resolv.conf")
		if h, err := os.Hostname(); err == nil && hostname == "" {
			hostname = h
		}
	default:
		// No berth sandbox (--network none, container:): the same builders
		// the network uses, without addresses.
		var err error
		if hosts, err = dns.Hosts(dns.HostsConfig{Hostname: hostname, Domainname: e.rec.Config.Domainname, ExtraHosts: hc.ExtraHosts}); err != nil {
			return nil, err
		}
		hostResolv, _ := os.ReadFile("/etc/resolv.conf")
		var servers []string
		for _, a := range hc.DNS {
			servers = append(servers, a.String())
		}
		rf, err := dns.ResolvConf(dns.ResolvConfig{Host: hostResolv, HostPath: "/etc/resolv.conf", DNS: servers, Search: hc.DNSSearch, Options: hc.DNSOptions})
		if err != nil {
			return nil, err
		}
		resolv = rf.Content
	}
	files := map[string]string{
		"/etc/hostname":    filepath.Join(dir, "hostname"),
		"/etc/hosts":       filepath.Join(dir, "hosts"),
		"/etc/resolv.conf": filepath.Join(dir, "resolv.conf"),
	}
	content := map[string][]byte{"/etc/hostname": []byte(hostname + "\n"), "/etc/hosts": hosts, "/etc/resolv.conf": resolv}
	for k, p := range files {
		if err := os.WriteFile(p, content[k], 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", k, err)
		}
	}
	return files, nil
}

// monitor waits for the container's exit through its shim and applies it.
func (m *Manager) monitor(ctx context.Context, e *entry, exited chan struct{}) {
	defer m.wg.Done()
	client := shim.Client{Socket: m.socket(e.rec.ID)}
	ex, err := client.Wait(ctx)
	if ctx.Err() != nil {
		return // the daemon stops; the container keeps running
	}
	if err != nil {
		rec, ok, rerr := shim.ReadExit(m.shimDir(e.rec.ID))
		switch {
		case ok:
			ex = rec
		default:
			if rerr != nil {
				log.From(ctx).Warn("read exit record", "container", e.rec.ID, "err", rerr)
			}
			ex = shim.Exit{ExitCode: 255, FinishedAt: m.cfg.Now().UTC(), Error: "container shim is gone"}
		}
	}
	m.handleExit(ctx, e, ex, exited)
}

func (m *Manager) handleExit(ctx context.Context, e *entry, ex shim.Exit, exited chan struct{}) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exited != exited {
		return // a newer run already took over
	}
	id := e.rec.ID
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	// The shim deletes the runtime's state itself; when the shim died
	// first, that is left to do here.
	if rt, err := m.runtime(e.rec.Runtime); err == nil {
		if _, err := os.Stat(filepath.Join(rt.Root, id)); err == nil && ex.Error != "" {
			_ = rt.Delete(cctx, id, true)
		}
	}
	if m.networks != nil && e.rec.Net != nil {
		if err := m.networks.Teardown(cctx, id); err != nil {
			log.From(ctx).Warn("tear down network", "container", id, "err", err)
		}
		e.rec.Net = nil
	}
	m.unmountVolumes(cctx, e)
	if err := m.rootfs.Unmount(cctx, filepath.Join(m.bundleDir(id), "rootfs")); err != nil {
		log.From(ctx).Warn("unmount rootfs", "container", id, "err", err)
	}
	ranFor := ex.FinishedAt.Sub(e.rec.State.StartedAt)
	m.setState(cctx, e, func(st *State) {
		st.Status = container.StateExited
		st.Pid = 0
		st.ExitCode = ex.ExitCode
		st.OOMKilled = ex.OOMKilled
		st.FinishedAt = ex.FinishedAt
		if ex.Error != "" && ex.ExitCode != 0 && st.Error == "" {
			st.Error = ex.Error
		}
	})
	if ex.OOMKilled {
		m.publish(e, events.ActionOOM, nil)
	}
	m.publish(e, events.ActionDie, map[string]string{"exitCode": strconv.Itoa(ex.ExitCode)})
	close(exited)
	e.exited = nil
	e.exitGen++
	e.notify()

	d := decideRestart(e.rec.HostConfig.RestartPolicy, ex.ExitCode, e.rec.State.RestartCount, e.rec.State.ManuallyStopped || e.stopping, ranFor, e.lastDelay)
	if d.Restart {
		e.lastDelay = d.Delay
		m.setState(cctx, e, func(st *State) { st.Status = container.StateRestarting })
		rctx, rcancel := context.WithCancel(m.baseCtx)
		e.restartCancel = rcancel
		timer := time.AfterFunc(d.Delay, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if rctx.Err() != nil {
				return
			}
			e.restartCancel = nil
			e.rec.State.RestartCount++
			if err := m.startLocked(rctx, e, true); err != nil {
				log.From(ctx).Warn("restart container", "container", id, "err", err)
			} else {
				m.publish(e, events.ActionRestart, nil)
			}
		})
		context.AfterFunc(rctx, func() { timer.Stop() })
		return
	}
	if e.rec.HostConfig.AutoRemove && !e.removing {
		go func() {
			if err := m.Remove(m.baseCtx, id, RemoveOptions{Force: true, Volumes: true}); err != nil {
				log.From(ctx).Warn("auto-remove container", "container", id, "err", err)
			}
		}()
	}
}

// needsSandbox reports whether a network mode gets a berth-made namespace
// with endpoints (bridge and user-defined networks).
func needsSandbox(nm container.NetworkMode) bool {
	return !nm.IsHost() && !nm.IsNone() && !nm.IsContainer()
}

// netRequest is the network part of the container's configuration.
func (m *Manager) netRequest(e *entry) NetRequest {
	c, hc := e.rec.Config, e.rec.HostConfig
	req := NetRequest{
		ContainerID: e.rec.ID, Name: e.rec.Name, Hostname: c.Hostname, Domainname: c.Domainname,
		Network: string(hc.NetworkMode), Endpoints: e.rec.Endpoints, PortBindings: hc.PortBindings,
		ExposedPorts: c.ExposedPorts, PublishAll: hc.PublishAllPorts, DNS: hc.DNS, DNSSearch: hc.DNSSearch,
		DNSOptions: hc.DNSOptions, ExtraHosts: hc.ExtraHosts,
	}
	return req
}

// namespaceOf returns the /proc path of a running container's namespace.
func (m *Manager) namespaceOf(ref, kind string) (string, error) {
	other, err := m.lookup(ref)
	if err != nil {
		return "", err
	}
	other.mu.Lock()
	defer other.mu.Unlock()
	if other.rec.State.Status != container.StateRunning || other.rec.State.Pid == 0 {
		return "", errorf(errdefs.ErrConflict, "cannot join %s namespace of a non running container: %s", kind, other.rec.ID)
	}
	return "/proc/" + strconv.Itoa(other.rec.State.Pid) + "/ns/" + kind, nil
}
