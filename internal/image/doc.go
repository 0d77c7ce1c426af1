// Package image is berth's local image store: image records, their tags, and
// the ways images enter and leave the machine without a registry — `import`
// of a rootfs tar, `load` and `save` of Docker's archive formats and OCI image
// layouts — plus list, inspect, history, tag, remove and prune with Docker's
// semantics.
//
// # What it owns
//
// Two metadata buckets: "images" maps an image ID ("sha256:<hex>", the digest
// of the image's config blob) to an Image record in JSON, and "tags" maps a
// normalized reference ("docker.io/library/busybox:latest", or a canonical
// "name@sha256:…" for repo digests) to an image ID. A record repeats its own
// tags (RepoTags, RepoDigests, familiar form) and every change to both buckets
// happens in one bbolt transaction, so they never disagree.
//
// Blobs (configs, layers as they came, manifests) live in the content store;
// unpacked layers live in the snapshotter keyed by chain ID. The store takes
// no references in either: a blob or a layer is released when an image is
// removed and no remaining image record names it.
//
// # What it does not do
//
// Pull and push (package distribution creates records through Create and
// AddRepoDigest), containers (callers say which images are in use through a
// UsedBy callback), and events delivery (it only calls a Publisher).
//
// # Concurrency
//
// Store is safe for concurrent use. Creating images (import, load, Create)
// runs under a shared lock so several can unpack at once; Remove and Prune
// take it exclusively, so a layer is never released while another image that
// needs it is being unpacked.
//
// # Formats
//
// Save writes what docker 25+ `docker save` writes: an OCI image layout
// (oci-layout, index.json, blobs/sha256/…) plus Docker's manifest.json and
// repositories, with every layer as an uncompressed tar blob named by its
// diff ID. Load reads that, the legacy layout (<id>/layer.tar, <id>.json),
// and plain OCI image layouts; it never writes anything but content-store
// blobs and snapshotter layers, so names, symlinks and hard links in the
// archive cannot reach outside the data root.
package image
