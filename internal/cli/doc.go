// Package cli implements the berth command line: Docker's verbs, flags,
// output tables, --format templates and exit codes, on top of the official
// Engine API client (github.com/moby/moby/client). It imports no daemon-side
// berth package.
//
// # Layout
//
// The pure parts live in their own files and carry table-driven tests:
// runopts.go (run/create flags → container config), netopts.go (--network
// and the endpoint flags → networking config), ports.go, mounts.go,
// flagvalues.go (docker's list/map flag values, natural name order),
// format.go (templates and tables), containerfmt.go, imagefmt.go,
// volumefmt.go and networkfmt.go (the formatting contexts behind
// ps/images/history/volume ls/network ls, and network create's IPAM
// grouping), timefmt.go, exitcode.go and prune.go (dry-run selection). The cmd_*.go files wire them to cobra and to
// the client; stream.go moves bytes between the terminal and hijacked
// attach/exec connections.
//
// # Concurrency
//
// A CLI value serves one invocation of Main. Streaming commands (run, attach,
// exec, logs -f, events) start goroutines that end before the command returns.
package cli
