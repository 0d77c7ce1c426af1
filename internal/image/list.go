package image

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"

	"berth/internal/filters"
)

// listFilters are the filters `docker images` accepts.
var listFilters = map[string]bool{
	"dangling": true, "label": true, "label!": true, "before": true, "since": true, "reference": true, "until": true,
}

// List returns the images as `GET /images/json` does. Filters: dangling
// (true: only images without tags; false: only tagged ones), label / label!,
// before and since (an image reference: created before/after it), until (a
// timestamp or duration), reference (a glob on familiar names, as
// reference.FamiliarMatch; RepoTags and RepoDigests then hold only the
// matching references). Untagged images have empty RepoTags and
// RepoDigests (API ≥ 1.44; the router adds "<none>" for older clients).
// Containers is -1 and SharedSize -1: callers that know fill them. all is
// accepted for compatibility: berth keeps no intermediate images. Unknown
// filters are an *filters.InvalidFilterError.
func (s *Store) List(ctx context.Context, f filters.Args, all bool) ([]image.Summary, error) {
	if err := f.Validate(listFilters); err != nil {
		return nil, err
	}
	danglingOnly, err := f.GetBoolOrDefault("dangling", false)
	if err != nil {
		return nil, err
	}
	var before, since time.Time
	for _, key := range []string{"before", "since"} {
		for _, v := range f.Get(key) {
			img, err := s.Get(ctx, v)
			if err != nil {
				return nil, err
			}
			if key == "before" {
				before = img.Created
			} else {
				since = img.Created
			}
		}
	}
	until, err := f.GetTime("until", s.now())
	if err != nil {
		return nil, err
	}
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	out := []image.Summary{}
	for _, img := range imgs {
		if f.Contains("before") && !img.Created.Before(before) {
			continue
		}
		if f.Contains("since") && !img.Created.After(since) {
			continue
		}
		if !until.IsZero() && img.Created.After(until) {
			continue
		}
		if !f.MatchLabels("label", img.Config.Config.Labels) {
			continue
		}
		sum := summary(img)
		if f.Contains("reference") {
			sum.RepoTags = matchRefs(img.RepoTags, f.Get("reference"))
			sum.RepoDigests = matchRefs(img.RepoDigests, f.Get("reference"))
			if len(sum.RepoTags) == 0 && len(sum.RepoDigests) == 0 {
				continue
			}
		}
		dangling := len(img.RepoTags) == 0
		if f.Contains("dangling") && dangling != danglingOnly {
			continue
		}
		out = append(out, sum)
	}
	slices.SortStableFunc(out, func(a, b image.Summary) int {
		if a.Created != b.Created {
			return int(b.Created - a.Created)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// matchRefs keeps the references that match one of the glob patterns.
func matchRefs(refs []string, patterns []string) []string {
	out := []string{}
	for _, r := range refs {
		named, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			continue
		}
		for _, p := range patterns {
			if ok, err := reference.FamiliarMatch(p, named); err == nil && ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func summary(img *Image) image.Summary {
	return image.Summary{
		ID:          img.ID.String(),
		RepoTags:    nonNil(img.RepoTags),
		RepoDigests: nonNil(img.RepoDigests),
		Created:     img.Created.Unix(),
		Size:        img.Size,
		SharedSize:  -1,
		Labels:      nonNilMap(img.Config.Config.Labels),
		Containers:  -1,
		ParentID:    "",
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}

// GraphDriverData is an optional snapshotter capability: the overlay2-style
// directories of a layer for `docker image inspect` (LowerDir, UpperDir,
// MergedDir, WorkDir as available).
type GraphDriverData interface {
	LayerDriverData(chainID string) map[string]string
}

// Inspect returns the image as `GET /images/{name}/json` does.
func (s *Store) Inspect(ctx context.Context, ref string) (image.InspectResponse, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return image.InspectResponse{}, err
	}
	cfg := img.Config
	resp := image.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     nonNil(img.RepoTags),
		RepoDigests:  nonNil(img.RepoDigests),
		Comment:      img.Comment,
		Author:       cfg.Author,
		Config:       &dockerspec.DockerOCIImageConfig{},
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		OsVersion:    cfg.OSVersion,
		Size:         img.Size,
		RootFS:       image.RootFS{Type: "layers"},
		Metadata:     image.Metadata{LastTagTime: img.LastTagTime},
	}
	if !img.Created.IsZero() {
		resp.Created = img.Created.Format(time.RFC3339Nano)
	}
	c := cloneConfig(cfg.Config)
	resp.Config = &c
	for _, l := range img.Layers {
		resp.RootFS.Layers = append(resp.RootFS.Layers, l.DiffID.String())
	}
	data := map[string]string{}
	if gd, ok := s.snap.(GraphDriverData); ok && len(img.Layers) > 0 {
		data = gd.LayerDriverData(img.ChainID().String())
	}
	resp.GraphDriver = &storage.DriverData{Name: "overlay2", Data: data}
	return resp, nil
}

// History returns the image's history as `GET /images/{name}/history` does:
// newest first; the top entry carries the image ID and tags, the others
// "<missing>", as dockerd shows for images not built locally. Size is the
// unpacked size of the layer an entry made (0 for empty layers).
func (s *Store) History(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var out []image.HistoryResponseItem
	layer := 0
	for _, h := range img.Config.History {
		item := image.HistoryResponseItem{
			ID:        "<missing>",
			CreatedBy: h.CreatedBy,
			Comment:   h.Comment,
			Tags:      []string{},
		}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer {
			if layer < len(img.Layers) {
				item.Size = img.Layers[layer].UnpackedSize
			}
			layer++
		}
		out = append(out, item)
	}
	if len(out) == 0 {
		// No history: one entry per layer, as dockerd synthesizes.
		for _, l := range img.Layers {
			out = append(out, image.HistoryResponseItem{ID: "<missing>", Created: img.Created.Unix(), Size: l.UnpackedSize, Tags: []string{}})
		}
	}
	slices.Reverse(out)
	if len(out) > 0 {
		out[0].ID = img.ID.String()
		out[0].Tags = nonNil(img.RepoTags)
	}
	return out, nil
}

// DiskUsage returns the image part of `GET /system/df`: every image with its
// Size, SharedSize (the part of it in layers other images also use) and
// Containers (from usedBy; -1 when usedBy is nil), and totals: TotalSize is
// the size of all distinct layers, Reclaimable the part no container's image
// uses.
func (s *Store) DiskUsage(ctx context.Context, usedBy UsedBy) (image.DiskUsage, error) {
	imgs, err := s.Images(ctx)
	if err != nil {
		return image.DiskUsage{}, err
	}
	count := map[string]int{}
	size := map[string]int64{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			count[l.ChainID.String()]++
			size[l.ChainID.String()] = l.UnpackedSize
		}
	}
	du := image.DiskUsage{Items: []image.Summary{}, TotalCount: int64(len(imgs))}
	active := map[string]bool{}
	for _, img := range imgs {
		sum := summary(img)
		sum.SharedSize = 0
		for _, l := range img.Layers {
			if count[l.ChainID.String()] > 1 {
				sum.SharedSize += l.UnpackedSize
			}
		}
		if usedBy != nil {
			n := len(usedBy(img.ID))
			sum.Containers = int64(n)
			if n > 0 {
				du.ActiveCount++
				for _, l := range img.Layers {
					active[l.ChainID.String()] = true
				}
			}
		}
		du.Items = append(du.Items, sum)
	}
	for chain, sz := range size {
		du.TotalSize += sz
		if !active[chain] {
			du.Reclaimable += sz
		}
	}
	return du, nil
}
