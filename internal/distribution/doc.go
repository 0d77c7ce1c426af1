// Package distribution pulls images from registries into the local image
// store and pushes them back, speaking the OCI distribution protocol with
// Docker's rules: reference normalization ("busybox" is
// docker.io/library/busybox:latest, served by registry-1.docker.io), basic
// and bearer-token auth (through go-containerregistry's transport), plain
// HTTP only for insecure registries (loopback by default), per-registry
// mirrors and CA certificates from certs.d directories.
//
// # Pull
//
// A pull resolves the manifest (an index picks the wanted platform), then
// fetches the layers in parallel. Each layer's bytes are written once to the
// content store's ingest file, which verifies the blob digest, and at the
// same time to a spool, an unlinked temporary file that the layer's unpacker
// follows: it decompresses and unpacks the layer as the bytes arrive, as soon
// as the layer below it is unpacked. The unpacker sees the end of the stream
// only after the blob's digest was verified and the blob committed, so a
// corrupt blob leaves neither a blob nor a layer behind. A cut connection is
// resumed with an HTTP Range request from the bytes already written; a
// server that sends nothing for Config.Timeout fails the attempt.
//
// # Push
//
// A push uploads the image's stored manifest with its config and layer
// blobs, skipping blobs the registry has (HEAD) and mounting blobs from
// other repositories of the same registry that the image is known under.
//
// # Concurrency
//
// A Client is safe for concurrent use; progress callbacks of one call are
// serialised.
package distribution
