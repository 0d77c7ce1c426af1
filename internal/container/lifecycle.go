package container

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/sys/signal"
	bolt "go.etcd.io/bbolt"

	"berth/internal/log"
	"berth/internal/metadata"
	"berth/internal/runtime/spec"
)

// defaultStopTimeout is Docker's grace period before SIGKILL.
const defaultStopTimeout = 10

// StopOptions are the options of Stop and Restart.
type StopOptions struct {
	// Signal overrides the container's stop signal.
	Signal string
	// Timeout is the grace period in seconds; nil uses the container's
	// StopTimeout or 10; negative waits forever.
	Timeout *int
}

func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGTERM, nil
	}
	sig, err := signal.ParseSignal(s)
	if err != nil {
		return 0, errorf(errdefs.ErrInvalidArgument, "%s", err.Error())
	}
	return sig, nil
}

// Stop sends the stop signal, waits for the grace period, then kills.
// Stopping a container that is not running is NotModified.
func (m *Manager) Stop(ctx context.Context, ref string, o StopOptions) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.restartCancel != nil {
		e.restartCancel()
		e.restartCancel = nil
		m.setState(ctx, e, func(st *State) { st.Status = container.StateExited; st.ManuallyStopped = true })
		e.mu.Unlock()
		return nil
	}
	if !e.running() {
		e.mu.Unlock()
		return fmt.Errorf("container %s is not running: %w", e.rec.ID, errdefs.ErrNotModified)
	}
	err = m.stopLocked(ctx, e, o)
	e.mu.Unlock()
	return err
}

// stopLocked stops the container; e.mu is held on entry and exit but
// released while waiting for the exit.
func (m *Manager) stopLocked(ctx context.Context, e *entry, o StopOptions) error {
	sigName := o.Signal
	if sigName == "" {
		sigName = e.rec.Config.StopSignal
	}
	sig, err := parseSignal(sigName)
	if err != nil {
		return err
	}
	timeout := defaultStopTimeout
	if e.rec.Config.StopTimeout != nil {
		timeout = *e.rec.Config.StopTimeout
	}
	if o.Timeout != nil {
		timeout = *o.Timeout
	}
	e.rec.State.ManuallyStopped = true
	e.stopping = true
	defer func() { e.stopping = false }()
	m.persistQuiet(ctx, e)
	exited := e.exited
	if e.rec.State.Status == container.StatePaused {
		_ = m.resumeLocked(ctx, e)
	}
	if err := m.signal(ctx, e, sig); err != nil && !errdefs.IsNotFound(err) {
		log.From(ctx).Warn("stop signal", "container", e.rec.ID, "err", err)
	}
	m.publish(e, events.ActionKill, map[string]string{"signal": fmt.Sprint(int(sig))})
	e.mu.Unlock()
	defer e.mu.Lock()
	if exited == nil {
		return nil
	}
	var grace <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(time.Duration(timeout) * time.Second)
		defer t.Stop()
		grace = t.C
	}
	select {
	case <-exited:
	case <-grace:
		e.mu.Lock()
		if err := m.signal(ctx, e, syscall.SIGKILL); err != nil && !errdefs.IsNotFound(err) {
			log.From(ctx).Warn("kill", "container", e.rec.ID, "err", err)
		}
		m.publish(e, events.ActionKill, map[string]string{"signal": "9"})
		e.mu.Unlock()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			return fmt.Errorf("container %s did not exit after SIGKILL", e.rec.ID)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mu.Lock()
	m.publish(e, events.ActionStop, nil)
	e.mu.Unlock()
	return nil
}

func (m *Manager) persistQuiet(ctx context.Context, e *entry) {
	if err := m.persist(e); err != nil {
		log.From(ctx).Error("persist container", "container", e.rec.ID, "err", err)
	}
}

// signal sends sig to the container's init process through the runtime.
func (m *Manager) signal(ctx context.Context, e *entry, sig syscall.Signal) error {
	rt, err := m.runtime(e.rec.Runtime)
	if err != nil {
		return err
	}
	return rt.Kill(ctx, e.rec.ID, sig, false)
}

// Kill sends a signal (default SIGKILL) to a running container.
func (m *Manager) Kill(ctx context.Context, ref, sigName string) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if sigName != "" {
		if sig, err = parseSignal(sigName); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.running() {
		return errorf(errdefs.ErrConflict, "cannot kill container: %s: container %s is not running", ref, e.rec.ID)
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		e.rec.State.ManuallyStopped = true
		m.persistQuiet(ctx, e)
	}
	if e.rec.State.Status == container.StatePaused && sig != syscall.SIGKILL {
		return errPaused(e.rec.ID)
	}
	exited := e.exited
	if err := m.signal(ctx, e, sig); err != nil {
		return err
	}
	m.publish(e, events.ActionKill, map[string]string{"signal": fmt.Sprint(int(sig))})
	if sig != syscall.SIGKILL || exited == nil {
		return nil
	}
	// Like dockerd, a SIGKILL returns once the container has exited, so the
	// next command sees it stopped (dockerd gives up waiting after 10s).
	e.mu.Unlock()
	defer e.mu.Lock()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Restart stops (if running) and starts the container.
func (m *Manager) Restart(ctx context.Context, ref string, o StopOptions) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.restartCancel != nil {
		e.restartCancel()
		e.restartCancel = nil
	}
	if e.running() {
		if err := m.stopLocked(ctx, e, o); err != nil {
			return err
		}
	}
	if err := m.startLocked(ctx, e, false); err != nil {
		return err
	}
	m.publish(e, events.ActionRestart, nil)
	return nil
}

// RemoveOptions are the options of Remove.
type RemoveOptions struct {
	Force   bool
	Volumes bool
}

// Remove deletes a container: its rw layer, logs and record. A running
// container needs Force, which kills it first.
func (m *Manager) Remove(ctx context.Context, ref string, o RemoveOptions) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removing {
		return errorf(errdefs.ErrConflict, "removal of container %s is already in progress", e.rec.ID)
	}
	if e.restartCancel != nil {
		if !o.Force {
			return errorf(errdefs.ErrConflict, "cannot remove container \"/%s\": container is restarting: stop the container before removing or force remove", e.rec.Name)
		}
		e.restartCancel()
		e.restartCancel = nil
	}
	if e.running() {
		if !o.Force {
			if e.rec.State.Status == container.StatePaused {
				return errorf(errdefs.ErrConflict, "cannot remove container \"/%s\": container is paused and must be unpaused first", e.rec.Name)
			}
			return errorf(errdefs.ErrConflict, "cannot remove container \"/%s\": container is running: stop the container before removing or force remove", e.rec.Name)
		}
		e.removing = true
		zero := 0
		if err := m.stopLocked(ctx, e, StopOptions{Signal: "KILL", Timeout: &zero}); err != nil {
			e.removing = false
			return fmt.Errorf("could not kill container for removal: %w", err)
		}
	}
	e.removing = true
	for _, x := range e.execs {
		m.mu.Lock()
		delete(m.execs, x.ID)
		m.mu.Unlock()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := m.rootfs.Remove(cctx, e.rec.ID); err != nil {
		e.rec.State.Status = container.StateDead
		m.persistQuiet(cctx, e)
		e.removing = false
		return fmt.Errorf("remove rootfs of %s: %w", e.rec.ID, err)
	}
	_ = os.Remove(m.socket(e.rec.ID))
	m.releaseVolumes(cctx, e.rec.ID, e.rec.Volumes, o.Volumes)
	if err := m.db.Update(func(tx *bolt.Tx) error {
		return metadata.Delete(tx, metadata.BucketContainers, e.rec.ID)
	}); err != nil {
		return fmt.Errorf("remove record of %s: %w", e.rec.ID, err)
	}
	// The record is gone: the bundle and the logs (possibly large) go in the
	// background; a crash before that is cleaned by the next Restore.
	m.wg.Add(1)
	go func(id string) {
		defer m.wg.Done()
		_ = os.RemoveAll(m.bundleDir(id))
		_ = os.RemoveAll(m.dataDir(id))
	}(e.rec.ID)
	m.mu.Lock()
	delete(m.byID, e.rec.ID)
	if m.byName[e.rec.Name] == e.rec.ID {
		delete(m.byName, e.rec.Name)
	}
	m.mu.Unlock()
	m.publish(e, events.ActionDestroy, nil)
	e.rec.State.Status = container.StateRemoving
	close(e.removed)
	e.notify()
	return nil
}

// WaitCondition is one of Docker's wait conditions.
type WaitCondition string

// Wait conditions.
const (
	WaitNotRunning WaitCondition = "not-running"
	WaitNextExit   WaitCondition = "next-exit"
	WaitRemoved    WaitCondition = "removed"
)

// Wait blocks until the condition holds and returns the exit code, or the
// error for a container that could not start.
func (m *Manager) Wait(ctx context.Context, ref string, cond WaitCondition) (int, string, error) {
	w, err := m.Waiter(ref, cond)
	if err != nil {
		return 0, "", err
	}
	return w(ctx)
}

// Waiter registers a wait on the container's state as it is now and returns
// the function that blocks for it. The API registers before it answers the
// request's headers, because clients issue the start right after them: a
// next-exit wait then sees an exit however soon it comes.
func (m *Manager) Waiter(ref string, cond WaitCondition) (func(ctx context.Context) (int, string, error), error) {
	e, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	switch cond {
	case "", WaitNotRunning, WaitNextExit, WaitRemoved:
	default:
		return nil, errorf(errdefs.ErrInvalidArgument, "invalid condition: %q", cond)
	}
	e.mu.Lock()
	gen := e.exitGen
	running := e.running() || e.restartCancel != nil
	e.mu.Unlock()
	// until blocks until done reports true (checked on every state change)
	// or the container is removed.
	until := func(ctx context.Context, done func() bool) error {
		for {
			e.mu.Lock()
			ok, changed := done(), e.changed
			e.mu.Unlock()
			if ok {
				return nil
			}
			select {
			case <-changed:
			case <-e.removed:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return func(ctx context.Context) (int, string, error) {
		var err error
		switch cond {
		case WaitRemoved:
			select {
			case <-e.removed:
			case <-ctx.Done():
				err = ctx.Err()
			}
		case WaitNextExit:
			err = until(ctx, func() bool { return e.exitGen > gen })
		default:
			if running {
				err = until(ctx, func() bool { return e.exitGen > gen })
			}
		}
		if err != nil {
			return 0, "", err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if cond == WaitRemoved {
			return e.rec.State.ExitCode, "", nil
		}
		return e.rec.State.ExitCode, e.rec.State.Error, nil
	}, nil
}

// Rename changes a container's name.
func (m *Manager) Rename(ctx context.Context, ref, newName string) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	newName = trimSlash(newName)
	if newName == "" {
		return errorf(errdefs.ErrInvalidArgument, "Neither old nor new names may be empty")
	}
	if !validName.MatchString(newName) {
		return errInvalidName(newName)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.rec.Name
	if old == newName {
		return errorf(errdefs.ErrInvalidArgument, "Renaming a container with the same name as its current name")
	}
	m.mu.Lock()
	if other, taken := m.byName[newName]; taken {
		m.mu.Unlock()
		return errNameInUse(newName, other)
	}
	m.byName[newName] = e.rec.ID
	delete(m.byName, old)
	m.mu.Unlock()
	e.rec.Name = newName
	m.persistQuiet(ctx, e)
	m.publish(e, events.ActionRename, map[string]string{"oldName": "/" + old})
	return nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[0] == '/' {
		s = s[1:]
	}
	return s
}

// Pause freezes a running container.
func (m *Manager) Pause(ctx context.Context, ref string) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Status == container.StatePaused {
		return errorf(errdefs.ErrConflict, "container %s is already paused", e.rec.ID)
	}
	if !e.running() {
		return errNotRunning(e.rec.ID)
	}
	rt, err := m.runtime(e.rec.Runtime)
	if err != nil {
		return err
	}
	if err := rt.Pause(ctx, e.rec.ID); err != nil {
		return err
	}
	m.setState(ctx, e, func(st *State) { st.Status = container.StatePaused })
	m.publish(e, events.ActionPause, nil)
	return nil
}

// Unpause thaws a paused container.
func (m *Manager) Unpause(ctx context.Context, ref string) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Status != container.StatePaused {
		return errorf(errdefs.ErrConflict, "container %s is not paused", e.rec.ID)
	}
	if err := m.resumeLocked(ctx, e); err != nil {
		return err
	}
	m.publish(e, events.ActionUnPause, nil)
	return nil
}

func (m *Manager) resumeLocked(ctx context.Context, e *entry) error {
	rt, err := m.runtime(e.rec.Runtime)
	if err != nil {
		return err
	}
	if err := rt.Resume(ctx, e.rec.ID); err != nil {
		return err
	}
	m.setState(ctx, e, func(st *State) { st.Status = container.StateRunning })
	return nil
}

// networkTarget resolves the container and the network name of a
// connect or disconnect.
func (m *Manager) networkTarget(ctx context.Context, ref, netRef string) (*entry, string, error) {
	if m.networks == nil {
		return nil, "", errorf(errdefs.ErrNotImplemented, "networking is not available")
	}
	e, err := m.lookup(ref)
	if err != nil {
		return nil, "", err
	}
	name, err := m.networks.Exists(ctx, netRef)
	if err != nil {
		return nil, "", err
	}
	return e, name, nil
}

// NetworkConnect connects a container to a network: at once when it runs,
// and at each later start.
func (m *Manager) NetworkConnect(ctx context.Context, ref, netRef string, es *network.EndpointSettings) error {
	e, name, err := m.networkTarget(ctx, ref, netRef)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !needsSandbox(e.rec.HostConfig.NetworkMode) {
		return errorf(errdefs.ErrInvalidArgument, "container cannot be disconnected from host network or connected to host network")
	}
	if _, ok := e.rec.Endpoints[name]; ok || string(e.rec.HostConfig.NetworkMode) == name {
		return errorf(errdefs.ErrPermissionDenied, "endpoint with name %s already exists in network %s", e.rec.Name, name)
	}
	if es == nil {
		es = &network.EndpointSettings{}
	}
	if e.running() && e.rec.Net != nil {
		nets, err := m.networks.Connect(ctx, e.rec.ID, name, es)
		if err != nil {
			return err
		}
		e.rec.Net.Networks = nets
	}
	if e.rec.Endpoints == nil {
		e.rec.Endpoints = map[string]*network.EndpointSettings{}
	}
	e.rec.Endpoints[name] = es
	m.persistQuiet(ctx, e)
	return nil
}

// NetworkDisconnect disconnects a container from a network.
func (m *Manager) NetworkDisconnect(ctx context.Context, ref, netRef string, force bool) error {
	e, name, err := m.networkTarget(ctx, ref, netRef)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, inEndpoints := e.rec.Endpoints[name]
	isMode := string(e.rec.HostConfig.NetworkMode) == name
	if !inEndpoints && !isMode {
		return errorf(errdefs.ErrInvalidArgument, "container %s is not connected to network %s", e.rec.ID, name)
	}
	if e.running() && e.rec.Net != nil {
		nets, err := m.networks.Disconnect(ctx, e.rec.ID, name)
		if err != nil && !force {
			return err
		}
		if err == nil {
			e.rec.Net.Networks = nets
		}
	}
	delete(e.rec.Endpoints, name)
	if isMode {
		e.rec.HostConfig.NetworkMode = "none"
		if len(e.rec.Endpoints) > 0 {
			for n := range e.rec.Endpoints {
				e.rec.HostConfig.NetworkMode = container.NetworkMode(n)
				break
			}
		}
	}
	m.persistQuiet(ctx, e)
	return nil
}

// Update changes a container's resource limits (applied at once when it
// runs) and restart policy, as `docker update`.
func (m *Manager) Update(ctx context.Context, ref string, u container.UpdateConfig) ([]string, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	hc := e.rec.HostConfig
	if u.RestartPolicy.Name != "" {
		if err := container.ValidateRestartPolicy(u.RestartPolicy); err != nil {
			return nil, errorf(errdefs.ErrInvalidArgument, "%s", err.Error())
		}
		if hc.AutoRemove && u.RestartPolicy.Name != container.RestartPolicyDisabled {
			return nil, errorf(errdefs.ErrInvalidArgument, "Restart policy cannot be updated because AutoRemove is enabled for the container")
		}
	}
	next := hc.Resources
	mergeResources(&next, u.Resources)
	if e.running() {
		res, err := spec.Resources(next)
		if err != nil {
			return nil, err
		}
		rt, err := m.runtime(e.rec.Runtime)
		if err != nil {
			return nil, err
		}
		if err := rt.Update(ctx, e.rec.ID, res); err != nil {
			return nil, fmt.Errorf("cannot update container %s: %w", e.rec.ID, err)
		}
	}
	hc.Resources = next
	if u.RestartPolicy.Name != "" {
		hc.RestartPolicy = u.RestartPolicy
	}
	m.persistQuiet(ctx, e)
	m.publish(e, events.ActionUpdate, nil)
	return []string{}, nil
}

// mergeResources sets the fields of u that were given (non-zero) on r.
func mergeResources(r *container.Resources, u container.Resources) {
	if u.BlkioWeight != 0 {
		r.BlkioWeight = u.BlkioWeight
	}
	if u.CPUShares != 0 {
		r.CPUShares = u.CPUShares
	}
	if u.NanoCPUs != 0 {
		r.NanoCPUs = u.NanoCPUs
	}
	if u.CPUPeriod != 0 {
		r.CPUPeriod = u.CPUPeriod
	}
	if u.CPUQuota != 0 {
		r.CPUQuota = u.CPUQuota
	}
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.Memory != 0 {
		r.Memory = u.Memory
	}
	if u.MemorySwap != 0 {
		r.MemorySwap = u.MemorySwap
	}
	if u.MemoryReservation != 0 {
		r.MemoryReservation = u.MemoryReservation
	}
	if u.PidsLimit != nil {
		r.PidsLimit = u.PidsLimit
	}
}
