package daemon

import (
	"context"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/opencontainers/go-digest"

	ctr "berth/internal/container"
	"berth/internal/image"
	"berth/internal/snapshot"
)

// imageResolver gives the container manager the view of images it needs.
type imageResolver struct{ images *image.Store }

func (r imageResolver) Resolve(ctx context.Context, ref string) (ctr.ImageInfo, error) {
	img, err := r.images.Get(ctx, ref)
	if err != nil {
		return ctr.ImageInfo{}, err
	}
	return ctr.ImageInfo{ID: img.ID.String(), ChainID: img.ChainID().String(), Config: containerConfig(img)}, nil
}

// containerConfig is an image's config as the container defaults it gives.
func containerConfig(img *image.Image) *container.Config {
	c := img.Config.Config
	out := &container.Config{
		User: c.User, Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint, WorkingDir: c.WorkingDir,
		Labels: c.Labels, StopSignal: c.StopSignal, Healthcheck: c.Healthcheck, OnBuild: c.OnBuild, Shell: c.Shell,
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = network.PortSet{}
		for p := range c.ExposedPorts {
			if port, err := network.ParsePort(p); err == nil {
				out.ExposedPorts[port] = struct{}{}
			}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	return out
}

// rootFS adapts a snapshotter to the container manager's string keys.
type rootFS struct{ snap snapshot.Snapshotter }

func (r rootFS) Prepare(ctx context.Context, key, parent string) error {
	return r.snap.Prepare(ctx, key, digest.Digest(parent))
}
func (r rootFS) Mount(ctx context.Context, key, target string) error {
	return r.snap.Mount(ctx, key, target)
}
func (r rootFS) Unmount(ctx context.Context, target string) error { return r.snap.Unmount(ctx, target) }
func (r rootFS) Remove(ctx context.Context, key string) error     { return r.snap.Remove(ctx, key) }
func (r rootFS) Usage(ctx context.Context, key string) (int64, error) {
	return r.snap.Usage(ctx, key)
}
func (r rootFS) UpperDir(key string) string { return r.snap.UpperDir(key) }
