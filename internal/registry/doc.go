// Package registry is berth's OCI distribution registry server: the
// distribution API (pull, push with monolithic, chunked and resumable
// uploads, cross-repository mounts, tag and catalog listing with
// pagination, manifest and blob deletion, the referrers API), its garbage
// collector, TLS, and authentication by htpasswd basic auth or Docker's
// token auth with per-repository permissions. `berthd registry` runs it
// (Main); it passes the OCI distribution-spec conformance suite, which
// test/conformance runs.
//
// # Storage layout
//
// Everything lives under one root directory:
//
//	blobs/<alg>/<hex>                          blob and manifest bytes (sha256 or sha512), 0444
//	repositories/<name>/_layers/<alg>/<hex>    empty file: the repository holds that blob
//	repositories/<name>/_manifests/revisions/<alg>/<hex>
//	                                           {"mediaType": …}: the repository holds that manifest
//	repositories/<name>/_manifests/tags/<tag>  the digest the tag points at
//	repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>
//	                                           referrers index: descriptor of a manifest whose subject is <alg>:<hex>
//	uploads/<id>/{data,meta.json}              upload sessions (meta names the repository)
//	gc.lock                                    flock(2) between servers and the collector
//
// The blobs/ layout is the content store's (internal/content). Every file is
// written atomically (temporary file in the same directory, fsync, rename,
// fsync of the directory), so a crash leaves the old state or the new one.
// A blob becomes visible only after its digest is verified: an upload's
// data file is hashed while it is written (sha256; another algorithm is
// hashed at commit) and renamed into blobs/ when the client's digest
// matches, or removed when it does not.
//
// Blob reads and deletes are scoped to a repository: a blob is served from
// repository r only if r links it, and DELETE removes the link, not the
// bytes (the collector does that).
//
// # Uploads
//
// The data file is the state of an upload, so a session survives a server
// restart; its size answers the status request (Range: 0-<last byte>) and
// a chunk must start where the data ends (416 otherwise). A chunk that
// fails half-way leaves what was written, which the client can see and
// resume from.
//
// # Concurrency and garbage collection
//
// A Server is safe for concurrent use; each upload session is serialised by
// its own mutex. Servers take gc.lock shared while they commit a blob, mount
// one or put a manifest (check of its references plus write), and GC takes it
// exclusively from mark to sweep, so GC may run while servers serve: it
// never sees half a push of a manifest, and pushes wait for it. Blobs whose
// modification time (refreshed on every upload, mount and manifest put) is
// within the grace period are kept, which protects the layers of a push whose
// manifest has not arrived yet. What GC removes is a blob that no manifest
// revision of any repository references; a deleted manifest no longer counts.
//
// # Auth
//
// Without --htpasswd or token flags the registry is open. With --htpasswd,
// requests need basic auth; with --token-realm or --token-issue they need a
// JWT bearer token (RS256, ES256 or EdDSA) whose access claim covers the
// request's scope, and 401s carry Docker's Bearer challenge. --acl grants
// actions per account and repository pattern (see acl); without it every
// authenticated user may do everything. Anonymous mounts (no from=) are only
// served when auth is off, and a mount whose source the client may not pull
// falls back to an upload.
package registry
