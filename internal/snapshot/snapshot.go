// Package snapshot stores unpacked image layers and the root file systems of
// containers built on them.
//
// A Snapshotter keeps layers by chain ID (see ChainID) and, for each
// container, a read-write layer named by a key on top of a chain. Two
// implementations exist: Overlay, which stacks layers with overlayfs, and
// Copy, which keeps every layer and container as a complete copy of its
// tree, for file systems where overlayfs is unavailable.
//
// # On-disk layout
//
//	root/layers/<chainID hex>/diff     Overlay: the layer's own files, whiteouts in overlay form
//	root/layers/<chainID hex>/tree     Copy: the whole merged tree of the chain
//	root/layers/<chainID hex>/parent   the parent chain ID, absent for a base layer
//	root/rw/<key>/upper, work          Overlay: a container's changes and overlay's work dir
//	root/rw/<key>/tree                 Copy: the container's whole tree
//	root/rw/<key>/parent               the chain the container is on, absent for an empty rootfs
//	root/l/<short id>                  Overlay: short symlinks to layer dirs for the classic mount
//	root/tmp/                          layers and containers being made; cleared when opened
//
// Layers and containers appear by renaming a complete directory from tmp/
// into place, so a crash never leaves half a layer visible.
package snapshot

import (
	"context"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Snapshotter manages layers and container root file systems.
//
// Methods are safe for concurrent use, but callers own the lifecycles: they
// keep reference counts and never remove a layer or container that is in use
// or mounted. Errors are classified with github.com/containerd/errdefs as
// each method says.
type Snapshotter interface {
	// HasLayer reports whether the layer chainID is present.
	HasLayer(chainID digest.Digest) bool

	// ApplyLayer unpacks the uncompressed layer tar r as the layer chainID
	// on top of the layer parent ("" for a base layer), and returns the
	// number of bytes read from r. r is read to its end before the layer is
	// published, so a reader that verifies a digest can fail at EOF to
	// keep a bad layer out. A layer already present is left alone: nothing
	// is read and 0 is returned. A missing parent gives ErrNotFound, a
	// hostile or malformed tar ErrInvalidArgument.
	ApplyLayer(ctx context.Context, parent, chainID digest.Digest, r io.Reader) (int64, error)

	// Layers lists the chain IDs of the present layers, in no order.
	Layers() ([]digest.Digest, error)

	// RemoveLayer removes the layer chainID: ErrNotFound if it is absent,
	// ErrConflict while a layer or container is on top of it.
	RemoveLayer(ctx context.Context, chainID digest.Digest) error

	// Prepare makes a container read-write layer named key on top of the
	// layer parent ("" for an empty root file system). ErrAlreadyExists if
	// key is taken, ErrNotFound if parent is absent, ErrInvalidArgument for
	// a key that is not a plain file name.
	Prepare(ctx context.Context, key string, parent digest.Digest) error

	// Mount mounts the root file system of key at the existing directory
	// target. ErrNotFound if key is absent.
	Mount(ctx context.Context, key, target string) error

	// Unmount unmounts target; a target that is not a mount point is not
	// an error.
	Unmount(ctx context.Context, target string) error

	// Remove deletes the container layer key, which must not be mounted.
	// ErrNotFound if it is absent.
	Remove(ctx context.Context, key string) error

	// UpperDir returns the directory that holds the changes of key: for
	// Overlay the overlayfs upper dir (whiteouts in overlay form, ready for
	// archive.Diff), for Copy the container's whole tree.
	UpperDir(key string) string

	// Usage returns the bytes used by the changes of key (for Copy, by its
	// whole tree). ErrNotFound if key is absent.
	Usage(ctx context.Context, key string) (int64, error)
}

// ChainID returns the chain ID of a stack of layers given bottom first by
// their diff IDs, as the OCI image spec defines it: the chain ID of one
// layer is its diff ID, and of n layers the sha256 of the chain ID of the
// first n-1, a space and the diff ID of the nth. No layers give "".
func ChainID(diffIDs []digest.Digest) digest.Digest {
	var chain digest.Digest
	for i, d := range diffIDs {
		if i == 0 {
			chain = d
			continue
		}
		chain = digest.FromString(string(chain) + " " + string(d))
	}
	return chain
}

// ChainIDs returns the chain ID of every prefix of diffIDs: the i-th is the
// chain ID of layers 0..i.
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i := range diffIDs {
		if i == 0 {
			out[i] = diffIDs[0]
			continue
		}
		out[i] = digest.FromString(string(out[i-1]) + " " + string(diffIDs[i]))
	}
	return out
}

func validKey(key string) bool {
	return key != "" && key != "." && key != ".." && len(key) <= 200 &&
		!strings.ContainsAny(key, "/\x00")
}
