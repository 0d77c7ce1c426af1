package image

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"berth/internal/metadata"
)

// ParseTag parses the target of `docker tag` (or of a load, import, commit or
// build): a normalized name with ":latest" added when no tag is given. Digest
// references and the name "sha256" are refused as Docker refuses them; all
// errors are errdefs.ErrInvalidArgument.
func ParseTag(ref string) (reference.NamedTagged, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, invalidErr(err)
	}
	if _, ok := named.(reference.Digested); ok {
		return nil, invalid("refusing to create a tag with a digest reference")
	}
	if reference.FamiliarName(named) == string(digest.Canonical) {
		return nil, invalid("refusing to create an ambiguous tag using digest algorithm as name")
	}
	tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged)
	if !ok {
		return nil, invalid("invalid reference format: %s", ref)
	}
	return tagged, nil
}

// Tag points target (a name, tag latest by default) at the image that source
// names. A tag held by another image moves; that image keeps its other tags.
// It emits a "tag" event.
func (s *Store) Tag(ctx context.Context, source, target string) error {
	named, err := ParseTag(target)
	if err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var img *Image
	err = s.db.Update(func(tx *bolt.Tx) error {
		img, err = s.getTx(ctx, tx, source)
		if err != nil {
			return err
		}
		_, err = s.setRefTx(tx, named, img)
		return err
	})
	if err != nil {
		return err
	}
	s.publish(events.ActionTag, img.ID.String(), reference.FamiliarString(named), img.Config.Config.Labels)
	return nil
}

// AddRepoDigest records "name@digest" (a canonical reference, as a pull
// records) for the image with the given ID.
func (s *Store) AddRepoDigest(ctx context.Context, id digest.Digest, ref reference.Canonical) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		img, err := getImage(tx, id)
		if err != nil {
			return err
		}
		_, err = s.setRefTx(tx, ref, img)
		return err
	})
}

// setRefTx points ref at img (and stores img). It returns the ID of the image
// that held ref before, "" when none or img itself.
func (s *Store) setRefTx(tx *bolt.Tx, ref reference.Named, img *Image) (digest.Digest, error) {
	key := ref.String()
	familiar := reference.FamiliarString(ref)
	_, canonical := ref.(reference.Canonical)
	var prev digest.Digest
	err := metadata.GetJSON(tx, metadata.BucketTags, key, &prev)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		prev = ""
	case err != nil:
		return "", err
	}
	if prev != "" && prev != img.ID {
		old, err := getImage(tx, prev)
		if err == nil {
			old.RepoTags = slices.DeleteFunc(old.RepoTags, func(t string) bool { return t == familiar })
			old.RepoDigests = slices.DeleteFunc(old.RepoDigests, func(t string) bool { return t == familiar })
			if err := putImage(tx, old); err != nil {
				return "", err
			}
		} else if !errors.Is(err, errdefs.ErrNotFound) {
			return "", err
		}
	}
	if err := metadata.PutJSON(tx, metadata.BucketTags, key, img.ID); err != nil {
		return "", fmt.Errorf("tag %s: %w", familiar, err)
	}
	if canonical {
		img.RepoDigests = append(img.RepoDigests, familiar)
	} else {
		img.RepoTags = append(img.RepoTags, familiar)
		img.LastTagTime = s.now().UTC()
	}
	if err := putImage(tx, img); err != nil {
		return "", err
	}
	if prev == img.ID {
		prev = ""
	}
	return prev, nil
}

// removeRefTx deletes ref from the tags bucket and from img's lists.
func removeRefTx(tx *bolt.Tx, ref reference.Named, img *Image) error {
	familiar := reference.FamiliarString(ref)
	if err := metadata.Delete(tx, metadata.BucketTags, ref.String()); err != nil {
		return fmt.Errorf("untag %s: %w", familiar, err)
	}
	img.RepoTags = slices.DeleteFunc(img.RepoTags, func(t string) bool { return t == familiar })
	img.RepoDigests = slices.DeleteFunc(img.RepoDigests, func(t string) bool { return t == familiar })
	return putImage(tx, img)
}

// imageRefs returns img's references, parsed: tags then digests.
func imageRefs(img *Image) []reference.Named {
	var out []reference.Named
	for _, s := range append(slices.Clone(img.RepoTags), img.RepoDigests...) {
		if n, err := reference.ParseNormalizedNamed(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}
