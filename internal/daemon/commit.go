package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctr "berth/internal/container"
	"berth/internal/content"
	"berth/internal/image"
)

// committer makes images of container changes for the container manager:
// the layer goes into the content store as an uncompressed blob, the
// config is the parent image's with the container's configuration, and the
// image store records (and unpacks) the result.
type committer struct {
	images  *image.Store
	content *content.Store
	now     func() time.Time
}

var _ ctr.Committer = committer{}

// commitConfig is the image config blob with Docker's top-level comment.
type commitConfig struct {
	dockerspec.DockerOCIImage
	Comment string `json:"comment,omitempty"`
}

func (c committer) Commit(ctx context.Context, req ctr.CommitRequest, layer io.Reader) (string, error) {
	if req.Ref != "" {
		if _, err := image.ParseTag(req.Ref); err != nil {
			return "", err
		}
	}
	parent, err := c.images.Get(ctx, req.ImageID)
	if err != nil {
		return "", fmt.Errorf("commit: parent image: %w", err)
	}
	cfg := commitConfig{DockerOCIImage: parent.Config, Comment: req.Comment}
	cfg.Config = imageConfigOf(req.Config)
	if err := image.ApplyChanges(&cfg.Config, req.Changes); err != nil {
		return "", err
	}
	w, err := c.content.Writer(ctx)
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	defer w.Close()
	if _, err := io.Copy(w, layer); err != nil {
		return "", fmt.Errorf("commit: read changes: %w", err)
	}
	d, size, err := w.Commit(ctx, "", -1)
	if err != nil {
		return "", fmt.Errorf("commit: store layer: %w", err)
	}
	created := c.now().UTC()
	cfg.Created = &created
	cfg.Author = req.Author
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(append(cfg.RootFS.DiffIDs[:0:0], parent.Config.RootFS.DiffIDs...), d)
	cfg.History = append(append(cfg.History[:0:0], parent.Config.History...), ocispec.History{
		Created: &created, Author: req.Author, Comment: req.Comment, CreatedBy: createdBy(req.Config),
	})
	layers := make([]ocispec.Descriptor, 0, len(parent.Layers)+1)
	for _, l := range parent.Layers {
		layers = append(layers, ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size})
	}
	layers = append(layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: size})
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("commit: encode config: %w", err)
	}
	img, err := c.images.Create(ctx, b, layers, "")
	if err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	if req.Ref != "" {
		if err := c.images.Tag(ctx, img.ID.String(), req.Ref); err != nil {
			return "", err
		}
	}
	return img.ID.String(), nil
}

// createdBy is the history line of a commit: the container's command.
func createdBy(cfg *container.Config) string {
	if cfg == nil {
		return ""
	}
	return strings.Join(append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...), " ")
}

// imageConfigOf is the image config part of a container configuration.
func imageConfigOf(c *container.Config) dockerspec.DockerOCIImageConfig {
	var out dockerspec.DockerOCIImageConfig
	if c == nil {
		return out
	}
	out.User, out.Env, out.Entrypoint, out.Cmd = c.User, c.Env, c.Entrypoint, c.Cmd
	out.WorkingDir, out.Labels, out.StopSignal = c.WorkingDir, c.Labels, c.StopSignal
	out.Healthcheck, out.OnBuild, out.Shell = c.Healthcheck, c.OnBuild, c.Shell
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
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

// containerBackend is the container manager as the container router sees
// it, with commit going through the image store.
type containerBackend struct {
	*ctr.Manager
	commit committer
}

// Commit commits a container's changes as a new image.
func (b containerBackend) Commit(ctx context.Context, ref string, o ctr.CommitOptions) (string, error) {
	return b.Manager.Commit(ctx, b.commit, ref, o)
}
