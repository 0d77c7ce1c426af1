package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"berth/internal/filters"
	"berth/internal/log"
	"berth/internal/metadata"
)

// ContainerUse is a container that uses an image.
type ContainerUse struct {
	// ID is the container's full ID.
	ID string
	// Running is true while the container runs (or is paused or
	// restarting): such a use cannot be forced away.
	Running bool
}

// UsedBy reports the containers that use the image imageID, running or not.
// The store calls it without holding any lock of the caller's; it must not
// call back into the Store.
type UsedBy func(imageID digest.Digest) []ContainerUse

// Remove deletes or untags the image ref names, with dockerd's rules:
//
//   - By a reference (name, name:tag, name@digest): the reference is removed
//     ("Untagged: …"). If it was the image's last tag, the image is
//     deleted too — unless a container uses it, which needs force when it is
//     the only reference ("conflict: unable to remove repository reference
//     …").
//   - By ID (or ID prefix): an image with several tags needs force ("image
//     is referenced in multiple repositories"); its tags are removed, then
//     the image.
//   - An image a stopped container uses needs force ("image is being used
//     by stopped container …"); one a running container uses cannot be
//     deleted even with force ("(cannot be forced) - image is being used by
//     running container …").
//
// Deleting an image releases its snapshot layers and blobs that no other
// image uses; the response lists "Deleted: <image ID>" then each released
// layer's chain ID. Layers of an image that containers still use are kept
// (their root file systems stand on them). noPrune is accepted for
// compatibility: berth has no parent images to prune. usedBy may be nil (no
// containers). Conflicts are errdefs.ErrConflict; it emits "untag" and
// "delete" events.
func (s *Store) Remove(ctx context.Context, ref string, force, noPrune bool, usedBy UsedBy) ([]image.DeleteResponse, error) {
	_ = noPrune
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remove(ctx, ref, force, usedBy)
}

// remove is Remove with s.mu held.
func (s *Store) remove(ctx context.Context, ref string, force bool, usedBy UsedBy) ([]image.DeleteResponse, error) {
	img, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	id := img.ID.String()
	var uses []ContainerUse
	if usedBy != nil {
		uses = usedBy(img.ID)
	}
	records := []image.DeleteResponse{}
	refs := imageRefs(img)
	if !isIDPrefix(id, ref) {
		if !force && isSingleReference(refs) && len(uses) > 0 {
			return nil, conflict("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, shortID(uses[0].ID), shortID(id))
		}
		l, err := parseLookup(ref)
		if err != nil {
			return nil, err
		}
		parsed := l.named
		if parsed == nil || !slices.ContainsFunc(refs, func(n reference.Named) bool { return n.String() == parsed.String() }) {
			// Found through the manifest digest: nothing to untag by that
			// name; treat like removal by ID.
			return s.deleteImage(ctx, img, records, force, uses, false, false)
		}
		remaining := refs
		err = s.db.Update(func(tx *bolt.Tx) error {
			cur, err := getImage(tx, img.ID)
			if err != nil {
				return err
			}
			if err := removeRefTx(tx, parsed, cur); err != nil {
				return err
			}
			records = append(records, image.DeleteResponse{Untagged: reference.FamiliarString(parsed)})
			remaining = slices.DeleteFunc(slices.Clone(refs), func(n reference.Named) bool { return n.String() == parsed.String() })
			// When the last tag of a repository goes, its digests go too.
			if _, canonical := parsed.(reference.Canonical); !canonical {
				tagLeft := slices.ContainsFunc(remaining, func(n reference.Named) bool {
					_, c := n.(reference.Canonical)
					return !c && n.Name() == parsed.Name()
				})
				if !tagLeft {
					var keep []reference.Named
					for _, n := range remaining {
						if _, c := n.(reference.Canonical); c && n.Name() == parsed.Name() {
							if err := removeRefTx(tx, n, cur); err != nil {
								return err
							}
							records = append(records, image.DeleteResponse{Untagged: reference.FamiliarString(n)})
							continue
						}
						keep = append(keep, n)
					}
					remaining = keep
				}
			}
			img = cur
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.publish(events.ActionUnTag, id, id, img.Config.Config.Labels)
		if len(remaining) > 0 {
			return records, nil
		}
		return s.deleteImage(ctx, img, records, force, uses, true, false)
	}
	// By ID: a single reference (one tag, maybe with its digests) goes
	// with the image without force.
	return s.deleteImage(ctx, img, records, force, uses, false, isSingleReference(refs))
}

// checkConflict applies dockerd's checkImageDeleteConflict: a running
// container always conflicts; without force, other references
// (unless ignoreRefs) and stopped containers do.
func checkConflict(id string, refs []reference.Named, uses []ContainerUse, force, ignoreRefs bool) error {
	for _, u := range uses {
		if u.Running {
			return deleteConflict(id, true, "image is being used by running container "+shortID(u.ID))
		}
	}
	if force {
		return nil
	}
	if !ignoreRefs && len(refs) > 0 {
		return deleteConflict(id, false, "image is referenced in multiple repositories")
	}
	if len(uses) > 0 {
		return deleteConflict(id, false, "image is being used by stopped container "+shortID(uses[0].ID))
	}
	return nil
}

// deleteImage removes img's remaining references and the image, then
// releases unshared layers and blobs. quiet (an untag that left the image
// without references) turns conflicts into "just untagged" for images that
// containers use, as dockerd does; ignoreRefs lets the image's references
// go without force.
func (s *Store) deleteImage(ctx context.Context, img *Image, records []image.DeleteResponse, force bool, uses []ContainerUse, quiet, ignoreRefs bool) ([]image.DeleteResponse, error) {
	id := img.ID.String()
	refs := imageRefs(img)
	if c := checkConflict(id, refs, uses, force, ignoreRefs); c != nil {
		if quiet && (len(refs) > 0 || len(uses) > 0) {
			return records, nil
		}
		return nil, c
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		cur, err := getImage(tx, img.ID)
		if err != nil {
			return err
		}
		for _, n := range imageRefs(cur) {
			if err := removeRefTx(tx, n, cur); err != nil {
				return err
			}
			records = append(records, image.DeleteResponse{Untagged: reference.FamiliarString(n)})
		}
		return metadata.Delete(tx, metadata.BucketImages, id)
	})
	if err != nil {
		return nil, fmt.Errorf("delete image %s: %w", id, err)
	}
	for range refs {
		s.publish(events.ActionUnTag, id, id, img.Config.Config.Labels)
	}
	s.publish(events.ActionDelete, id, id, img.Config.Config.Labels)
	records = append(records, image.DeleteResponse{Deleted: id})
	if len(uses) == 0 {
		released, err := s.release(ctx, img)
		if err != nil {
			return records, err
		}
		for _, c := range released {
			records = append(records, image.DeleteResponse{Deleted: c.String()})
		}
	}
	return records, nil
}

// release removes the layers (top first) and blobs of a deleted image that
// no remaining image uses, and returns the removed chain IDs.
func (s *Store) release(ctx context.Context, img *Image) ([]digest.Digest, error) {
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, err
	}
	chains := map[digest.Digest]bool{}
	blobs := map[digest.Digest]bool{}
	for _, o := range imgs {
		blobs[o.ID] = true
		blobs[o.ManifestDigest] = true
		for _, l := range o.Layers {
			chains[l.ChainID] = true
			blobs[l.Digest] = true
		}
	}
	ctx = context.WithoutCancel(ctx)
	var released []digest.Digest
	for _, l := range slices.Backward(img.Layers) {
		if chains[l.ChainID] {
			continue
		}
		if err := s.snap.RemoveLayer(ctx, l.ChainID); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				continue
			}
			// Something (a container, another layer) still stands on it.
			log.From(ctx).Warn("keep layer in use", "digest", l.ChainID.String(), "err", err)
			break
		}
		released = append(released, l.ChainID)
	}
	toDelete := []digest.Digest{img.ID, img.ManifestDigest}
	for _, l := range img.Layers {
		toDelete = append(toDelete, l.Digest)
	}
	for _, d := range toDelete {
		if d == "" || blobs[d] {
			continue
		}
		blobs[d] = true // once
		if err := s.cs.Delete(d); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			log.From(ctx).Warn("remove blob", "digest", d.String(), "err", err)
		}
	}
	return released, nil
}

// isIDPrefix reports whether ref is a prefix of the ID, with or without
// its algorithm.
func isIDPrefix(id, ref string) bool {
	if strings.HasPrefix(id, ref) {
		return true
	}
	if i := strings.IndexByte(id, ':'); i >= 0 {
		return strings.HasPrefix(id[i+1:], ref)
	}
	return false
}

// isSingleReference is dockerd's: exactly one tag, or references that all
// belong to one repository (one tag plus its digests).
func isSingleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single reference.Named
	canonical := map[string]bool{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = true
		} else if single == nil {
			single = r
		} else {
			return false
		}
	}
	if single == nil {
		single = refs[0]
	}
	return len(canonical) == 1 && canonical[single.Name()]
}

// pruneFilters are the filters `docker image prune` accepts.
var pruneFilters = map[string]bool{"dangling": true, "label": true, "label!": true, "until": true}

// Prune removes unused images as `POST /images/prune` does: only dangling
// ones (no tags) unless all (or the filter dangling=false), then every image
// no container uses. Filters: until (created before), label, label!.
// SpaceReclaimed counts the layers released. With dryRun nothing is removed
// and the report lists what would be ("Deleted: <id>" per image; berth's
// own addition). It emits a "prune" event with the reclaimed space.
func (s *Store) Prune(ctx context.Context, f filters.Args, all bool, usedBy UsedBy, dryRun bool) (image.PruneReport, error) {
	if err := f.Validate(pruneFilters); err != nil {
		return image.PruneReport{}, err
	}
	danglingOnly, err := f.GetBoolOrDefault("dangling", !all)
	if err != nil {
		return image.PruneReport{}, err
	}
	until, err := f.GetTime("until", s.now())
	if err != nil {
		return image.PruneReport{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	imgs, err := s.Images(ctx)
	if err != nil {
		return image.PruneReport{}, err
	}
	layerSize := map[digest.Digest]int64{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			layerSize[l.ChainID] = l.UnpackedSize
		}
	}
	rep := image.PruneReport{ImagesDeleted: []image.DeleteResponse{}}
	for _, img := range imgs {
		if err := ctx.Err(); err != nil {
			return image.PruneReport{}, err
		}
		if danglingOnly && len(img.RepoTags) > 0 {
			continue
		}
		if !until.IsZero() && img.Created.After(until) {
			continue
		}
		if !f.MatchLabels("label", img.Config.Config.Labels) {
			continue
		}
		if usedBy != nil && len(usedBy(img.ID)) > 0 {
			continue
		}
		if dryRun {
			for _, t := range append(slices.Clone(img.RepoTags), img.RepoDigests...) {
				rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Untagged: t})
			}
			rep.ImagesDeleted = append(rep.ImagesDeleted, image.DeleteResponse{Deleted: img.ID.String()})
			continue
		}
		del, err := s.deleteImage(ctx, img, nil, true, nil, false, true)
		if err != nil {
			log.From(ctx).Warn("prune: delete image", "image", img.ID.String(), "err", err)
			continue
		}
		rep.ImagesDeleted = append(rep.ImagesDeleted, del...)
	}
	if dryRun {
		// What would be released: layers no surviving image uses.
		kept := map[digest.Digest]bool{}
		gone := map[string]bool{}
		for _, d := range rep.ImagesDeleted {
			gone[d.Deleted] = true
		}
		for _, img := range imgs {
			if !gone[img.ID.String()] {
				for _, l := range img.Layers {
					kept[l.ChainID] = true
				}
			}
		}
		for c, sz := range layerSize {
			if !kept[c] {
				rep.SpaceReclaimed += uint64(sz)
			}
		}
		return rep, nil
	}
	for _, d := range rep.ImagesDeleted {
		if sz, ok := layerSize[digest.Digest(d.Deleted)]; ok && d.Deleted != "" {
			rep.SpaceReclaimed += uint64(sz)
		}
	}
	if len(rep.ImagesDeleted) > 0 && s.pub != nil {
		s.pub.Publish(events.ImageEventType, events.ActionPrune, events.Actor{
			Attributes: map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)},
		})
	}
	return rep, nil
}
