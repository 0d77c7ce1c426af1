package daemon

import (
	"context"
	"path/filepath"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"berth/internal/config"
	"berth/internal/distribution"
)

// newDistribution builds the registry client from the daemon config.
func newDistribution(cfg config.Daemon, d *Daemon) (*distribution.Client, error) {
	dc := distribution.DefaultConfig()
	dc.InsecureRegistries = cfg.InsecureRegistries
	dc.Mirrors = cfg.RegistryMirrors
	dc.TempDir = filepath.Join(cfg.DataRoot, "distribution", "tmp")
	return distribution.New(dc, d.images, d.content, d.snap)
}

// Pull serves POST /images/create?fromImage=…; it emits Docker's "pull"
// event for each reference pulled.
func (b imageBackend) Pull(ctx context.Context, ref, platform string, allTags bool, auth registry.AuthConfig, progress func(jsonstream.Message)) error {
	opts := distribution.PullOptions{Auth: auth, AllTags: allTags}
	if platform != "" {
		p, err := distribution.ParsePlatform(platform)
		if err != nil {
			return err
		}
		opts.Platform = &p
	}
	refs, err := b.d.dist.Pull(ctx, ref, opts, progress)
	for _, r := range refs {
		b.d.events.Publish(events.ImageEventType, events.ActionPull, events.Actor{ID: r, Attributes: map[string]string{"name": r}})
	}
	return err
}

// Push serves POST /images/{name}/push and emits a "push" event.
func (b imageBackend) Push(ctx context.Context, ref string, allTags bool, auth registry.AuthConfig, progress func(jsonstream.Message)) error {
	if err := b.d.dist.Push(ctx, ref, distribution.PushOptions{Auth: auth, AllTags: allTags}, progress); err != nil {
		return err
	}
	b.d.events.Publish(events.ImageEventType, events.ActionPush, events.Actor{ID: ref, Attributes: map[string]string{"name": ref}})
	return nil
}

// distributionBackend serves /auth and /distribution.
type distributionBackend struct{ d *Daemon }

func (b distributionBackend) Login(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error) {
	return b.d.dist.Login(ctx, auth)
}

func (b distributionBackend) Inspect(ctx context.Context, ref string, auth registry.AuthConfig) (registry.DistributionInspect, error) {
	return b.d.dist.Inspect(ctx, ref, auth)
}
