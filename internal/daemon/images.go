package daemon

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"berth/internal/filters"
	imagestore "berth/internal/image"
)

// imageBackend serves the image routes from the image store, telling it
// which containers use which images.
type imageBackend struct{ d *Daemon }

func (b imageBackend) usedBy(id digest.Digest) []imagestore.ContainerUse {
	var out []imagestore.ContainerUse
	for _, u := range b.d.containers.ImageUsers(id.String()) {
		out = append(out, imagestore.ContainerUse{ID: u.ID, Running: u.Running})
	}
	return out
}

func (b imageBackend) List(ctx context.Context, f filters.Args, all bool) ([]image.Summary, error) {
	return b.d.images.List(ctx, f, all)
}

func (b imageBackend) Inspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	return b.d.images.Inspect(ctx, ref)
}

func (b imageBackend) History(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	return b.d.images.History(ctx, ref)
}

func (b imageBackend) Tag(ctx context.Context, source, target string) error {
	return b.d.images.Tag(ctx, source, target)
}

func (b imageBackend) Remove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error) {
	return b.d.images.Remove(ctx, ref, force, noPrune, b.usedBy)
}

// Prune follows the API: `image prune -a` arrives as the filter dangling=false.
func (b imageBackend) Prune(ctx context.Context, f filters.Args, dryRun bool) (image.PruneReport, error) {
	dangling, err := f.GetBoolOrDefault("dangling", true)
	if err != nil {
		return image.PruneReport{}, err
	}
	rest := filters.Args{}
	for _, k := range f.Keys() {
		if k != "dangling" {
			for _, v := range f.Get(k) {
				rest = rest.With(k, v)
			}
		}
	}
	return b.d.images.Prune(ctx, rest, !dangling, b.usedBy, dryRun)
}

func (b imageBackend) Import(ctx context.Context, r io.Reader, ref string, changes []string, message string) (string, error) {
	img, err := b.d.images.Import(ctx, r, ref, changes, message)
	if err != nil {
		return "", err
	}
	return img.ID.String(), nil
}

func (b imageBackend) Load(ctx context.Context, r io.Reader, progress func(string)) error {
	return b.d.images.Load(ctx, r, progress)
}

func (b imageBackend) Save(ctx context.Context, w io.Writer, refs []string) error {
	return b.d.images.Save(ctx, w, refs)
}

func (b imageBackend) Exists(ctx context.Context, refs []string) error {
	for _, r := range refs {
		if _, err := b.d.images.Get(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
