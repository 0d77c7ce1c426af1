package container

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"

	"berth/internal/filters"
)

func timeString(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inspect returns Docker's JSON view of a container.
func (m *Manager) Inspect(ctx context.Context, ref string, size bool) (container.InspectResponse, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return container.InspectResponse{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rec
	st := r.State
	execIDs := []string{}
	for id := range e.execs {
		execIDs = append(execIDs, id)
	}
	dir := m.dataDir(r.ID)
	resp := container.InspectResponse{
		ID: r.ID, Created: timeString(r.Created), Path: r.Path, Args: r.Args,
		State: &container.State{
			Status: st.Status, Running: st.Status == container.StateRunning || st.Status == container.StatePaused,
			Paused: st.Status == container.StatePaused, Restarting: st.Status == container.StateRestarting,
			OOMKilled: st.OOMKilled, Dead: st.Status == container.StateDead, Pid: st.Pid, ExitCode: st.ExitCode,
			Error: st.Error, StartedAt: timeString(st.StartedAt), FinishedAt: timeString(st.FinishedAt),
			Health: st.Health,
		},
		Image: r.Image, ResolvConfPath: dir + "/resolv.conf", HostnamePath: dir + "/hostname", HostsPath: dir + "/hosts",
		LogPath: r.LogPath, Name: "/" + r.Name, RestartCount: st.RestartCount, Driver: "overlay2", Platform: "linux",
		ExecIDs: execIDs, HostConfig: r.HostConfig, Config: r.Config, Mounts: mountPoints(r.HostConfig, r.Volumes),
		GraphDriver: &storage.DriverData{Name: "overlay2", Data: map[string]string{}},
		NetworkSettings: &container.NetworkSettings{
			SandboxKey: "", Ports: network.PortMap{}, Networks: map[string]*network.EndpointSettings{},
		},
	}
	if len(execIDs) == 0 {
		resp.ExecIDs = nil
	}
	resp.NetworkSettings.Networks = networksOf(r)
	if r.Net != nil {
		resp.NetworkSettings.SandboxKey = r.Net.SandboxKey
		resp.NetworkSettings.SandboxID = r.ID
		resp.NetworkSettings.Ports = r.Net.Ports
	} else {
		resp.NetworkSettings.Ports = network.PortMap{}
	}
	if size {
		rw, _ := m.rootfs.Usage(ctx, r.ID)
		resp.SizeRw = &rw
		var zero int64
		resp.SizeRootFs = &zero
	}
	return resp, nil
}

func mountPoints(hc *container.HostConfig, vols []VolumeRef) []container.MountPoint {
	mps := []container.MountPoint{}
	for _, v := range vols {
		mode := ""
		if !v.RW {
			mode = "ro"
		}
		mps = append(mps, container.MountPoint{Type: mount.TypeVolume, Name: v.Name, Source: v.Source, Destination: v.Destination,
			Driver: v.Driver, Mode: mode, RW: v.RW, Propagation: ""})
	}
	for _, b := range hc.Binds {
		if isVolumeBind(b) {
			continue
		}
		parts := strings.Split(b, ":")
		if len(parts) < 2 {
			continue
		}
		mp := container.MountPoint{Type: mount.TypeBind, Source: parts[0], Destination: parts[1], RW: true, Propagation: mount.PropagationRPrivate}
		if len(parts) > 2 {
			mp.Mode = parts[2]
			for _, o := range strings.Split(parts[2], ",") {
				if o == "ro" {
					mp.RW = false
				}
			}
		}
		mps = append(mps, mp)
	}
	for _, mt := range hc.Mounts {
		if mt.Type == mount.TypeVolume {
			continue
		}
		mps = append(mps, container.MountPoint{Type: mt.Type, Source: mt.Source, Destination: mt.Target, RW: !mt.ReadOnly})
	}
	for dst := range hc.Tmpfs {
		mps = append(mps, container.MountPoint{Type: mount.TypeTmpfs, Destination: dst, RW: true})
	}
	return mps
}

// statusText is the human status of `docker ps`.
func statusText(st State, now time.Time) string {
	switch st.Status {
	case container.StateRunning:
		up := "Up " + units.HumanDuration(now.Sub(st.StartedAt))
		if st.Health != nil {
			switch st.Health.Status {
			case container.Starting:
				up += " (health: starting)"
			case container.Healthy, container.Unhealthy:
				up += " (" + string(st.Health.Status) + ")"
			}
		}
		return up
	case container.StatePaused:
		return "Up " + units.HumanDuration(now.Sub(st.StartedAt)) + " (Paused)"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
	case container.StateRemoving:
		return "Removal In Progress"
	case container.StateDead:
		return "Dead"
	case container.StateCreated:
		return "Created"
	}
	if st.FinishedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(now.Sub(st.FinishedAt)))
}

// ListOptions are the options of List.
type ListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters filters.Args
}

var listFilters = map[string]bool{
	"id": true, "name": true, "label": true, "status": true, "exited": true, "ancestor": true,
	"before": true, "since": true, "health": true, "isolation": true, "network": true,
	"volume": true, "publish": true, "expose": true, "is-task": true,
}

// List returns containers as `GET /containers/json` does.
func (m *Manager) List(ctx context.Context, o ListOptions) ([]container.Summary, error) {
	if err := o.Filters.Validate(listFilters); err != nil {
		return nil, err
	}
	for _, s := range o.Filters.Get("status") {
		if container.ValidateContainerState(container.ContainerState(s)) != nil {
			return nil, errorf(errdefs.ErrInvalidArgument, "invalid filter 'status=%s'", s)
		}
	}
	all := m.entries()
	var beforeT, sinceT time.Time
	for key, dst := range map[string]*time.Time{"before": &beforeT, "since": &sinceT} {
		for _, ref := range o.Filters.Get(key) {
			e, err := m.lookup(ref)
			if err != nil {
				return nil, err
			}
			*dst = e.rec.Created
		}
	}
	now := m.cfg.Now()
	out := []container.Summary{}
	for _, e := range all {
		e.mu.Lock()
		r := e.rec
		e.mu.Unlock()
		running := r.State.Status == container.StateRunning || r.State.Status == container.StatePaused
		if !o.All && !running && !o.Filters.Contains("status") && !o.Filters.Contains("exited") && o.Limit <= 0 {
			continue
		}
		if !matchContainer(o.Filters, r) {
			continue
		}
		if !beforeT.IsZero() && !r.Created.Before(beforeT) {
			continue
		}
		if !sinceT.IsZero() && !r.Created.After(sinceT) {
			continue
		}
		// dockerd quotes arguments holding a space: "sh -c 'sleep 1; ls'".
		cmd := r.Path
		for _, a := range r.Args {
			if strings.Contains(a, " ") {
				a = "'" + a + "'"
			}
			cmd += " " + a
		}
		s := container.Summary{
			ID: r.ID, Names: []string{"/" + r.Name}, Image: r.ImageRef, ImageID: r.Image, Command: cmd,
			Created: r.Created.Unix(), Ports: []container.PortSummary{}, Labels: r.Config.Labels,
			State: r.State.Status, Status: statusText(r.State, now), Mounts: mountPoints(r.HostConfig, r.Volumes),
			NetworkSettings: &container.NetworkSettingsSummary{Networks: networksOf(r)},
		}
		if r.Net != nil {
			s.Ports = portSummaries(r.Net.Ports)
		}
		s.HostConfig.NetworkMode = string(r.HostConfig.NetworkMode)
		if r.State.Health != nil && running {
			s.Health = &container.HealthSummary{Status: r.State.Health.Status, FailingStreak: r.State.Health.FailingStreak}
		}
		if o.Size {
			s.SizeRw, _ = m.rootfs.Usage(ctx, r.ID)
		}
		out = append(out, s)
		if o.Limit > 0 && len(out) >= o.Limit {
			break
		}
	}
	return out, nil
}

func matchContainer(f filters.Args, r Record) bool {
	if f.Len() == 0 {
		return true
	}
	if ids := f.Get("id"); len(ids) > 0 {
		ok := false
		for _, id := range ids {
			if strings.HasPrefix(r.ID, id) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	// Like dockerd, name filters are regular expressions matched against
	// the name with and without its leading slash.
	if !f.Match("name", "/"+r.Name) && !f.Match("name", r.Name) {
		return false
	}
	if !f.Match("status", string(r.State.Status)) {
		return false
	}
	if f.Contains("health") {
		h := string(container.NoHealthcheck)
		if r.State.Health != nil {
			h = string(r.State.Health.Status)
		}
		if !f.ExactMatch("health", h) {
			return false
		}
	}
	if codes := f.Get("exited"); len(codes) > 0 {
		if r.State.Status != container.StateExited {
			return false
		}
		ok := false
		for _, c := range codes {
			if n, err := strconv.Atoi(c); err == nil && n == r.State.ExitCode {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if imgs := f.Get("ancestor"); len(imgs) > 0 {
		ok := false
		for _, a := range imgs {
			if a == r.ImageRef || a == r.Image || strings.HasPrefix(strings.TrimPrefix(r.Image, "sha256:"), strings.TrimPrefix(a, "sha256:")) ||
				(!strings.Contains(a, ":") && strings.HasPrefix(r.ImageRef, a+":")) || (strings.HasSuffix(a, ":latest") && r.ImageRef == strings.TrimSuffix(a, ":latest")) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return f.MatchLabels("label", r.Config.Labels)
}

// Prune removes stopped containers matching the filters (until, label).
// With dryRun nothing is removed: the report lists what would go.
func (m *Manager) Prune(ctx context.Context, f filters.Args, dryRun bool) (container.PruneReport, error) {
	if err := f.Validate(map[string]bool{"until": true, "label": true, "label!": true}); err != nil {
		return container.PruneReport{}, err
	}
	var until time.Time
	if v := f.Get("until"); len(v) > 0 {
		t, err := filters.ParseTime(v[0], m.cfg.Now())
		if err != nil {
			return container.PruneReport{}, err
		}
		until = t
	}
	rep := container.PruneReport{ContainersDeleted: []string{}}
	for _, e := range m.entries() {
		e.mu.Lock()
		r := e.rec
		running := e.running() || e.restartCancel != nil
		e.mu.Unlock()
		if running || !f.MatchLabels("label", r.Config.Labels) {
			continue
		}
		if !until.IsZero() && !r.Created.Before(until) {
			continue
		}
		size, _ := m.rootfs.Usage(ctx, r.ID)
		if !dryRun {
			if err := m.Remove(ctx, r.ID, RemoveOptions{}); err != nil {
				continue
			}
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, r.ID)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

// Top lists the container's processes with the host's ps and psArgs.
func (m *Manager) Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return container.TopResponse{}, err
	}
	e.mu.Lock()
	id, running, rtName := e.rec.ID, e.running(), e.rec.Runtime
	e.mu.Unlock()
	if !running {
		return container.TopResponse{}, errorf(errdefs.ErrConflict, "container %s is not running", id)
	}
	rt, err := m.runtime(rtName)
	if err != nil {
		return container.TopResponse{}, err
	}
	pids, err := rt.Ps(ctx, id)
	if err != nil {
		return container.TopResponse{}, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return container.TopResponse{}, errorf(errdefs.ErrInvalidArgument, "ps: %v", err)
	}
	return parsePs(out, pids)
}

// parsePs keeps the rows of ps output whose PID column is one of pids.
func parsePs(out []byte, pids []int) (container.TopResponse, error) {
	lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
	if len(lines) == 0 {
		return container.TopResponse{}, errorf(errdefs.ErrInvalidArgument, "ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	col := -1
	for i, t := range titles {
		if t == "PID" {
			col = i
		}
	}
	if col < 0 {
		return container.TopResponse{}, errorf(errdefs.ErrInvalidArgument, "Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	resp := container.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !want[pid] {
			continue
		}
		row := f[:len(titles)-1]
		row = append(append([]string{}, row...), strings.Join(f[len(titles)-1:], " "))
		resp.Processes = append(resp.Processes, row)
	}
	return resp, nil
}

// networksOf is NetworkSettings.Networks: the live endpoints of a running
// container, or the networks it asked for (without addresses) when stopped.
func networksOf(r Record) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	if r.Net != nil {
		for k, v := range r.Net.Networks {
			out[k] = v
		}
		return out
	}
	nm := r.HostConfig.NetworkMode
	if nm.IsContainer() {
		return out
	}
	if nm != "" {
		out[string(nm)] = &network.EndpointSettings{}
	}
	for k, v := range r.Endpoints {
		es := &network.EndpointSettings{}
		if v != nil {
			es.Aliases, es.IPAMConfig = v.Aliases, v.IPAMConfig
		}
		out[k] = es
	}
	return out
}

// portSummaries is the PORTS column of ps.
func portSummaries(pm network.PortMap) []container.PortSummary {
	out := []container.PortSummary{}
	for p, bs := range pm {
		for _, b := range bs {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, container.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PrivatePort != out[j].PrivatePort {
			return out[i].PrivatePort < out[j].PrivatePort
		}
		return out[i].PublicPort < out[j].PublicPort
	})
	return out
}
