// Package archtest holds the test that enforces berth's import rules: each
// package imports only packages of lower layers, plus the few same-layer
// edges listed in its table, and the CLI reaches the daemon only through
// the moby client. See STYLE.md §2 and docs/architecture.md.
package archtest
