// Package metadata owns berth's one bbolt file, `<data-root>/berth.db`.
// Only this package opens it; each component owns named top-level buckets
// and stores JSON values in them through the transactions DB hands out.
//
// # Buckets
//
//	images        image ID ("sha256:<hex>")          → image record (JSON)        owner: image
//	tags          normalized reference ("docker.io/library/busybox:latest") → image ID   owner: image
//	containers    container ID (64 hex)              → container record (JSON)    owner: container
//	networks      network ID, and "ipam"             → network record; IPAM state  owner: network
//	sandboxes     container ID                       → network endpoints (JSON)     owner: network
//	volumes       volume name ("data", 64 hex when anonymous) → volume record (JSON): driver, labels,
//	              options, scope, created, container refs, mount ids      owner: volume
//
// Schema version is kept in bucket "meta", key "version"; Open migrates
// older files forward.
package metadata
