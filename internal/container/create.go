package container

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"berth/internal/logger"
)

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CreateOptions are the parts of a create request.
type CreateOptions struct {
	Name       string
	Config     *container.Config
	HostConfig *container.HostConfig
	// Endpoints are the networks to join, from the request's NetworkingConfig.
	Endpoints map[string]*network.EndpointSettings
}

// CreateResult is a created container.
type CreateResult struct {
	ID       string
	Warnings []string
}

// Create records a new container from an image and prepares its writable
// layer; nothing runs until Start.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (CreateResult, error) {
	if o.Config == nil {
		return CreateResult{}, errorf(errdefs.ErrInvalidArgument, "config cannot be empty in order to create a container")
	}
	hc := o.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if err := validateHostConfig(hc); err != nil {
		return CreateResult{}, err
	}
	if o.Name != "" && !validName.MatchString(o.Name) {
		return CreateResult{}, errInvalidName(o.Name)
	}
	if o.Config.Image == "" {
		return CreateResult{}, errorf(errdefs.ErrInvalidArgument, "No command specified")
	}
	img, err := m.images.Resolve(ctx, o.Config.Image)
	if err != nil {
		return CreateResult{}, err
	}
	cfg := mergeImageConfig(o.Config, img.Config)
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return CreateResult{}, errorf(errdefs.ErrInvalidArgument, "No command specified")
	}
	if _, err := m.runtime(hc.Runtime); err != nil {
		return CreateResult{}, err
	}
	driver := hc.LogConfig.Type
	if driver == "" {
		driver = m.cfg.LogDriver
	}
	if err := logger.ValidateOptions(driver, hc.LogConfig.Config); err != nil {
		return CreateResult{}, fmt.Errorf("%w: %w", errdefs.ErrInvalidArgument, err)
	}

	id := newID()
	name := strings.TrimPrefix(o.Name, "/")
	m.mu.Lock()
	if name == "" {
		for {
			name = generateName(rand.IntN)
			if _, taken := m.byName[name]; !taken {
				break
			}
		}
	}
	if other, taken := m.byName[name]; taken {
		m.mu.Unlock()
		return CreateResult{}, errNameInUse(name, other)
	}
	m.byName[name] = id // reserve
	m.mu.Unlock()
	release := func() {
		m.mu.Lock()
		delete(m.byName, name)
		m.mu.Unlock()
	}

	path, args := commandOf(cfg)
	if cfg.Hostname == "" && !container.NetworkMode(hc.NetworkMode).IsHost() {
		cfg.Hostname = id[:12]
	}
	if hc.NetworkMode == "" || hc.NetworkMode == "default" {
		hc.NetworkMode = "bridge"
	}
	if hc.LogConfig.Type == "" {
		hc.LogConfig.Type = m.cfg.LogDriver
		if len(hc.LogConfig.Config) == 0 && len(m.cfg.LogOpts) > 0 {
			hc.LogConfig.Config = m.cfg.LogOpts
		}
	}
	if hc.Runtime == "" {
		hc.Runtime = m.cfg.DefaultRuntime
	}
	rec := Record{
		ID: id, Name: name, Created: m.cfg.Now().UTC(), Path: path, Args: args,
		Image: img.ID, ImageRef: o.Config.Image, ChainID: img.ChainID,
		Config: cfg, HostConfig: hc, Runtime: hc.Runtime,
		State: State{Status: container.StateCreated},
	}
	if hc.LogConfig.Type == "json-file" {
		rec.LogPath = filepath.Join(m.dataDir(id), id+"-json.log")
	}
	if err := m.checkNetworks(ctx, hc, o.Endpoints); err != nil {
		release()
		return CreateResult{}, err
	}
	rec.Endpoints = normalizeEndpoints(o.Endpoints)
	vols, err := m.resolveVolumes(ctx, id, cfg, hc)
	if err != nil {
		release()
		return CreateResult{}, err
	}
	rec.Volumes = vols
	undo := func(rootfs bool) {
		cctx := context.WithoutCancel(ctx)
		release()
		m.releaseVolumes(cctx, id, vols, true)
		if rootfs {
			_ = m.rootfs.Remove(cctx, id)
		}
		os.RemoveAll(m.dataDir(id))
	}
	if err := os.MkdirAll(m.dataDir(id), 0o710); err != nil {
		undo(false)
		return CreateResult{}, fmt.Errorf("container dir: %w", err)
	}
	if err := m.rootfs.Prepare(ctx, id, img.ChainID); err != nil {
		undo(false)
		return CreateResult{}, fmt.Errorf("prepare rootfs: %w", err)
	}
	e := &entry{rec: rec, changed: make(chan struct{}), removed: make(chan struct{}), execs: map[string]*Exec{}}
	if err := m.persist(e); err != nil {
		undo(true)
		return CreateResult{}, err
	}
	m.mu.Lock()
	m.byID[id] = e
	m.mu.Unlock()
	m.publish(e, events.ActionCreate, nil)
	return CreateResult{ID: id, Warnings: []string{}}, nil
}

// checkNetworks makes sure the networks a container asks for exist.
func (m *Manager) checkNetworks(ctx context.Context, hc *container.HostConfig, eps map[string]*network.EndpointSettings) error {
	if m.networks == nil {
		return nil
	}
	nm := hc.NetworkMode
	if nm.IsHost() || nm.IsNone() || nm.IsContainer() {
		if len(eps) > 1 {
			return errorf(errdefs.ErrInvalidArgument, "conflicting options: cannot attach both user-defined and non-user-defined network-modes")
		}
		return nil
	}
	if _, err := m.networks.Exists(ctx, string(nm)); err != nil && nm != "bridge" {
		return err
	}
	for name := range normalizeEndpoints(eps) {
		if _, err := m.networks.Exists(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// normalizeEndpoints maps the CLI's "default" network to "bridge".
func normalizeEndpoints(eps map[string]*network.EndpointSettings) map[string]*network.EndpointSettings {
	if len(eps) == 0 {
		return nil
	}
	out := make(map[string]*network.EndpointSettings, len(eps))
	for k, v := range eps {
		if k == "default" {
			k = "bridge"
		}
		out[k] = v
	}
	return out
}

func validateHostConfig(hc *container.HostConfig) error {
	if err := container.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return errorf(errdefs.ErrInvalidArgument, "%s", err)
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return errorf(errdefs.ErrInvalidArgument, "can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

// mergeImageConfig fills the request's config from the image's defaults
// as Docker does: Cmd, Entrypoint, Env (image first, request overrides),
// WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal, Healthcheck.
func mergeImageConfig(req, img *container.Config) *container.Config {
	c := *req
	if img == nil {
		return &c
	}
	if len(c.Entrypoint) == 0 {
		c.Entrypoint = img.Entrypoint
		if len(c.Cmd) == 0 {
			c.Cmd = img.Cmd
		}
	}
	c.Env = mergeEnv(img.Env, c.Env)
	if c.WorkingDir == "" {
		c.WorkingDir = img.WorkingDir
	}
	if c.User == "" {
		c.User = img.User
	}
	if len(img.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range img.Labels {
			labels[k] = v
		}
		for k, v := range c.Labels {
			labels[k] = v
		}
		c.Labels = labels
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	if len(img.ExposedPorts) > 0 {
		ports := network.PortSet{}
		for p := range img.ExposedPorts {
			ports[p] = struct{}{}
		}
		for p := range c.ExposedPorts {
			ports[p] = struct{}{}
		}
		c.ExposedPorts = ports
	}
	if len(img.Volumes) > 0 {
		vols := map[string]struct{}{}
		for v := range img.Volumes {
			vols[v] = struct{}{}
		}
		for v := range c.Volumes {
			vols[v] = struct{}{}
		}
		c.Volumes = vols
	}
	if c.StopSignal == "" {
		c.StopSignal = img.StopSignal
	}
	if c.Healthcheck == nil {
		c.Healthcheck = img.Healthcheck
	}
	if len(c.OnBuild) == 0 {
		c.OnBuild = img.OnBuild
	}
	return &c
}

func mergeEnv(base, over []string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

func commandOf(c *container.Config) (string, []string) {
	full := append(append([]string{}, c.Entrypoint...), c.Cmd...)
	if len(full) == 0 {
		return "", []string{}
	}
	return full[0], append([]string{}, full[1:]...)
}

// generateName makes a "adjective_noun" name; intn is injected for tests.
func generateName(intn func(int) int) string {
	adjectives := []string{"brave", "calm", "clever", "eager", "fair", "gentle", "happy", "jolly", "keen", "lively",
		"merry", "nimble", "proud", "quiet", "quick", "sharp", "steady", "swift", "tidy", "witty", "bold", "bright", "cosy", "crisp"}
	nouns := []string{"anchor", "beacon", "buoy", "cargo", "compass", "dock", "ferry", "galley", "harbor", "hull",
		"keel", "lighthouse", "mast", "pier", "quay", "rudder", "schooner", "sextant", "skiff", "tugboat", "wharf", "yawl", "cutter", "dinghy"}
	return adjectives[intn(len(adjectives))] + "_" + nouns[intn(len(nouns))]
}
