package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// VolumeRef is a volume mounted into a container, resolved at create.
type VolumeRef struct {
	Name        string
	Driver      string
	Destination string
	RW          bool
	Anonymous   bool
	NoCopy      bool
	// Source is where the volume was mounted on the host at the last start.
	Source string `json:",omitempty"`
}

// splitBind splits a -v value into source, destination and mode; a lone
// path is a destination (an anonymous volume).
func splitBind(b string) (src, dst, mode string) {
	parts := strings.SplitN(b, ":", 3)
	switch len(parts) {
	case 1:
		return "", parts[0], ""
	case 2:
		return parts[0], parts[1], ""
	}
	return parts[0], parts[1], parts[2]
}

// isVolumeBind reports whether a -v value names a volume rather than a host path.
func isVolumeBind(b string) bool {
	src, _, _ := splitBind(b)
	return src == "" || !path.IsAbs(src)
}

func modeRW(mode string) bool {
	for _, w := range strings.Split(mode, ",") {
		if w == "ro" {
			return false
		}
	}
	return true
}

func modeNoCopy(mode string) bool {
	for _, w := range strings.Split(mode, ",") {
		if w == "nocopy" {
			return true
		}
	}
	return false
}

// resolveVolumes turns the volume parts of a create request (-v name:/path,
// --mount type=volume, the image's and the request's VOLUMEs,
// --volumes-from) into references, creating the volumes that do not exist
// yet and taking a reference on each for the container id.
func (m *Manager) resolveVolumes(ctx context.Context, id string, cfg *container.Config, hc *container.HostConfig) (refs []VolumeRef, err error) {
	if m.volumes == nil {
		for _, b := range hc.Binds {
			if isVolumeBind(b) {
				return nil, errorf(errdefs.ErrNotImplemented, "volumes are not available")
			}
		}
		return nil, nil
	}
	defer func() {
		if err != nil {
			m.releaseVolumes(context.WithoutCancel(ctx), id, refs, true)
			refs = nil
		}
	}()
	covered := map[string]bool{}
	for _, b := range hc.Binds {
		_, dst, _ := splitBind(b)
		covered[path.Clean(dst)] = true
	}
	for _, mt := range hc.Mounts {
		covered[path.Clean(mt.Target)] = true
	}
	add := func(name, driver, dst string, rw, anon, nocopy bool, opts, labels map[string]string) error {
		if driver == "" {
			driver = hc.VolumeDriver
		}
		if anon {
			if labels == nil {
				labels = map[string]string{}
			}
			labels["com.docker.volume.anonymous"] = ""
		}
		v, err := m.volumes.Create(ctx, name, driver, opts, labels)
		if err != nil {
			return err
		}
		if err := m.volumes.Acquire(ctx, v.Name, id); err != nil {
			return err
		}
		refs = append(refs, VolumeRef{Name: v.Name, Driver: v.Driver, Destination: path.Clean(dst), RW: rw, Anonymous: anon, NoCopy: nocopy})
		return nil
	}
	for _, b := range hc.Binds {
		if !isVolumeBind(b) {
			continue
		}
		src, dst, mode := splitBind(b)
		if !path.IsAbs(dst) {
			return refs, errorf(errdefs.ErrInvalidArgument, "invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", b, dst)
		}
		if err := add(src, "", dst, modeRW(mode), src == "", modeNoCopy(mode), nil, nil); err != nil {
			return refs, err
		}
	}
	for _, mt := range hc.Mounts {
		if mt.Type != mount.TypeVolume {
			continue
		}
		var driver string
		var opts, labels map[string]string
		nocopy := false
		if vo := mt.VolumeOptions; vo != nil {
			nocopy = vo.NoCopy
			labels = vo.Labels
			if vo.DriverConfig != nil {
				driver, opts = vo.DriverConfig.Name, vo.DriverConfig.Options
			}
		}
		if err := add(mt.Source, driver, mt.Target, !mt.ReadOnly, mt.Source == "", nocopy, opts, labels); err != nil {
			return refs, err
		}
	}
	for _, from := range hc.VolumesFrom {
		ref, mode, _ := strings.Cut(from, ":")
		other, err := m.lookup(ref)
		if err != nil {
			return refs, err
		}
		other.mu.Lock()
		theirs := append([]VolumeRef(nil), other.rec.Volumes...)
		other.mu.Unlock()
		for _, r := range theirs {
			if covered[r.Destination] {
				continue
			}
			rw := r.RW
			if mode == "ro" {
				rw = false
			} else if mode == "rw" {
				rw = true
			}
			if err := m.volumes.Acquire(ctx, r.Name, id); err != nil {
				return refs, err
			}
			covered[r.Destination] = true
			refs = append(refs, VolumeRef{Name: r.Name, Driver: r.Driver, Destination: r.Destination, RW: rw, NoCopy: true})
		}
	}
	for _, r := range refs {
		covered[r.Destination] = true
	}
	dests := make([]string, 0, len(cfg.Volumes))
	for d := range cfg.Volumes {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		if covered[path.Clean(d)] {
			continue
		}
		if err := add("", "", d, true, true, false, nil, nil); err != nil {
			return refs, err
		}
	}
	return refs, nil
}

// releaseVolumes drops the container's references; with removeAnon, its
// anonymous volumes are removed too (rm -v, or a failed create).
func (m *Manager) releaseVolumes(ctx context.Context, id string, refs []VolumeRef, removeAnon bool) {
	if m.volumes == nil {
		return
	}
	for _, r := range refs {
		if err := m.volumes.Release(ctx, r.Name, id); err != nil && !errdefs.IsNotFound(err) {
			log.From(ctx).Warn("release volume", "container", id, "volume", r.Name, "err", err)
		}
		if removeAnon && r.Anonymous {
			if err := m.volumes.Remove(ctx, r.Name, false); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsConflict(err) {
				log.From(ctx).Warn("remove anonymous volume", "container", id, "volume", r.Name, "err", err)
			}
		}
	}
}

// mountVolumes mounts the container's volumes, seeds new ones from the
// image content at their destination (unless nocopy), and returns the
// bind mounts to give the runtime. On error, what was mounted is undone.
func (m *Manager) mountVolumes(ctx context.Context, e *entry, rootfs string) (binds []string, err error) {
	var done []VolumeRef
	defer func() {
		if err != nil {
			for _, r := range done {
				_ = m.volumes.Unmount(context.WithoutCancel(ctx), r.Name, e.rec.ID)
			}
		}
	}()
	for i := range e.rec.Volumes {
		r := &e.rec.Volumes[i]
		src, err := m.volumes.Mount(ctx, r.Name, e.rec.ID)
		if err != nil {
			return nil, err
		}
		done = append(done, *r)
		r.Source = src
		if !r.NoCopy {
			if err := m.seedVolume(ctx, r.Name, rootfs, r.Destination); err != nil {
				return nil, err
			}
		}
		mode := "rw"
		if !r.RW {
			mode = "ro"
		}
		binds = append(binds, src+":"+r.Destination+":"+mode)
	}
	return binds, nil
}

// seedVolume copies the image's content at dst (resolved inside rootfs,
// never following a link out of it) into the volume, when it is empty.
func (m *Manager) seedVolume(ctx context.Context, name, rootfs, dst string) error {
	rfd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seed volume %s: %w", name, err)
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, strings.TrimPrefix(dst, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing in the image there
	}
	if err != nil {
		return fmt.Errorf("seed volume %s from %s: %w", name, dst, err)
	}
	defer unix.Close(fd)
	// The kernel resolved dst inside rootfs; its real path has no links
	// left, and nothing changes the stopped rootfs meanwhile.
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return fmt.Errorf("seed volume %s from %s: %w", name, dst, err)
	}
	if !strings.HasPrefix(real+"/", strings.TrimSuffix(rootfs, "/")+"/") {
		return fmt.Errorf("seed volume %s: %s resolves outside the root file system: %w", name, dst, errdefs.ErrInvalidArgument)
	}
	return m.volumes.Seed(ctx, name, real)
}

// unmountVolumes undoes mountVolumes after an exit.
func (m *Manager) unmountVolumes(ctx context.Context, e *entry) {
	if m.volumes == nil {
		return
	}
	for _, r := range e.rec.Volumes {
		if err := m.volumes.Unmount(ctx, r.Name, e.rec.ID); err != nil && !errdefs.IsNotFound(err) {
			log.From(ctx).Warn("unmount volume", "container", e.rec.ID, "volume", r.Name, "err", err)
		}
	}
}

// specHostConfig is the host config the runtime spec is made from: the
// user's, with volume binds and mounts replaced by binds of their sources.
func specHostConfig(hc *container.HostConfig, volumeBinds []string) *container.HostConfig {
	out := *hc
	out.Binds = nil
	for _, b := range hc.Binds {
		if !isVolumeBind(b) {
			out.Binds = append(out.Binds, b)
		}
	}
	out.Binds = append(out.Binds, volumeBinds...)
	out.Mounts = nil
	for _, mt := range hc.Mounts {
		if mt.Type != mount.TypeVolume {
			out.Mounts = append(out.Mounts, mt)
		}
	}
	return &out
}
