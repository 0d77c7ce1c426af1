package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"berth/internal/log"
)

// GCOptions tunes GC.
type GCOptions struct {
	// Grace keeps blobs linked, uploaded or mounted more recently than
	// this, so content pushed ahead of its manifest survives. 0 means one
	// hour; a negative value means no grace.
	Grace time.Duration
	// UploadTTL removes upload sessions started longer ago than this. 0
	// means 24 hours.
	UploadTTL time.Duration
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// GCReport says what a collection found and removed.
type GCReport struct {
	Manifests    int             // manifests kept (one per repository revision)
	Marked       int             // distinct blobs referenced
	Removed      []digest.Digest // blobs removed
	BytesFreed   int64
	Links        int // repository blob links removed
	UploadsFreed int // stale upload sessions removed
}

// GC collects the garbage of the registry stored at root: blobs that no
// manifest of any repository references (manifests themselves being
// referenced by their repository) and that are older than the grace period,
// the repository links to them, and abandoned uploads.
//
// It is safe while servers use root: it holds the storage lock exclusively
// from mark to sweep, which pauses the servers' blob commits, mounts and
// manifest pushes (reads go on), and the grace period protects blobs that
// were pushed for a manifest not pushed yet.
func GC(ctx context.Context, root string, opts GCOptions) (GCReport, error) {
	var rep GCReport
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	grace := opts.Grace
	if grace == 0 {
		grace = time.Hour
	}
	ttl := opts.UploadTTL
	if ttl == 0 {
		ttl = 24 * time.Hour
	}
	s, err := newStorage(root, now)
	if err != nil {
		return rep, err
	}
	unlock, err := s.lock(ctx, true)
	if err != nil {
		return rep, err
	}
	defer unlock()
	logger := log.From(ctx)

	// Mark.
	marked := map[digest.Digest]bool{}
	repos, err := s.repositories()
	if err != nil {
		return rep, err
	}
	for _, name := range repos {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		revs, err := walkDigests(filepath.Join(s.repoDir(name), dirManifests, dirRevisions))
		if err != nil {
			return rep, err
		}
		for _, d := range revs {
			body, _, err := s.getManifest(name, d)
			if err != nil {
				logger.Warn("gc: unreadable manifest skipped", "component", "registry", "digest", d, "err", err)
				continue
			}
			rep.Manifests++
			marked[d] = true
			m, err := parseManifestJSON(body)
			if err != nil {
				continue
			}
			if m.Config != nil {
				marked[m.Config.Digest] = true
			}
			for _, l := range m.Layers {
				marked[l.Digest] = true
			}
			for _, c := range m.Manifests {
				marked[c.Digest] = true
			}
		}
	}
	rep.Marked = len(marked)

	// Sweep blobs.
	cutoff := now().Add(-grace)
	blobs, err := walkDigests(filepath.Join(root, dirBlobs))
	if err != nil {
		return rep, err
	}
	for _, d := range blobs {
		if marked[d] {
			continue
		}
		p := s.blobPath(d)
		fi, err := os.Stat(p)
		if err != nil || (grace > 0 && fi.ModTime().After(cutoff)) {
			continue
		}
		if !opts.DryRun {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, fmt.Errorf("gc: remove blob %s: %w", d, err)
			}
		}
		rep.Removed = append(rep.Removed, d)
		rep.BytesFreed += fi.Size()
	}

	// Links to blobs that are gone.
	for _, name := range repos {
		links, err := walkDigests(filepath.Join(s.repoDir(name), dirLayers))
		if err != nil {
			return rep, err
		}
		for _, d := range links {
			gone := !exists(s.blobPath(d))
			if opts.DryRun {
				gone = gone || slices.Contains(rep.Removed, d)
			}
			if !gone {
				continue
			}
			rep.Links++
			if !opts.DryRun {
				os.Remove(s.layerLink(name, d))
			}
		}
	}

	// Abandoned uploads.
	entries, err := os.ReadDir(filepath.Join(root, dirUploads))
	if err != nil {
		return rep, fmt.Errorf("gc: uploads: %w", err)
	}
	for _, e := range entries {
		dir := filepath.Join(root, dirUploads, e.Name())
		started := time.Time{}
		if b, err := os.ReadFile(filepath.Join(dir, uploadMeta)); err == nil {
			var info uploadInfo
			if json.Unmarshal(b, &info) == nil {
				started = info.Started
			}
		}
		if started.IsZero() {
			if fi, err := e.Info(); err == nil {
				started = fi.ModTime()
			}
		}
		if now().Sub(started) < ttl {
			continue
		}
		rep.UploadsFreed++
		if !opts.DryRun {
			os.RemoveAll(dir)
		}
	}
	logger.Info("registry garbage collected", "component", "registry", "manifests", rep.Manifests,
		"marked", rep.Marked, "removed", len(rep.Removed), "bytes", rep.BytesFreed, "dry_run", opts.DryRun)
	return rep, nil
}

// walkDigests lists the digests stored as dir/<algorithm>/<encoded>.
func walkDigests(dir string) ([]digest.Digest, error) {
	algs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	var out []digest.Digest
	for _, a := range algs {
		if !a.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, a.Name()))
		if err != nil {
			return nil, fmt.Errorf("gc: %w", err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			d := digest.NewDigestFromEncoded(digest.Algorithm(a.Name()), e.Name())
			if d.Validate() == nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}
