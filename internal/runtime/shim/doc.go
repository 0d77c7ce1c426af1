// Package shim is the small per-process supervisor that sits between berthd
// and a container's process. berthd re-executes itself as `berthd shim CONFIG`
// once for each container start and each exec; the shim:
//
//   - asks the OCI runtime to create the process (runc create, or nothing for
//     an exec until it is started) and reports "ready" on its stdout pipe;
//   - holds the process's stdio: pipes, or the pty master runc passes over the
//     console socket; it writes every output line to the log driver and to
//     every attached client, and feeds attached stdin to the process;
//   - is the child subreaper, so the process becomes its child, and records
//     its exit status in exit.json before it leaves.
//
// The shim is detached (its own session), so containers keep running while
// berthd is stopped or killed; a new berthd dials the shim's socket again, or
// reads exit.json when the shim is gone.
//
// # Protocol
//
// One unix socket per shim. Each connection sends one JSON request line and
// gets one JSON reply line. "start" starts the process; "wait" replies when it
// exited; "resize" sets the pty size; "signal" signals an exec process;
// "attach" replies and then carries the stream: shim→client frames in Docker's
// multiplexed format (8-byte header: stream, 0, 0, 0, big-endian size), and
// client→shim raw stdin bytes, ended by a half-close.
package shim
