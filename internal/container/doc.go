// Package container owns container records and their lifecycle: create,
// start, stop, kill, restart policy, wait, rename, remove, attach, logs and
// exec, and live restore of running containers after a daemon restart.
//
// # Model
//
// A Manager holds one entry per container, each with its own mutex. The
// record (Config, HostConfig, State) is persisted in the metadata bucket
// "containers" on every state change. A running container is a shim process
// (runtime/shim) that berthd spawned detached; the Manager keeps one monitor
// goroutine per running container that blocks on the shim's "wait" and then
// applies the exit: unmount, state, events, restart policy, auto-remove.
//
// # On disk
//
//	<data-root>/containers/<id>/{hostname,hosts,resolv.conf,<id>-json.log}
//	<exec-root>/containers/<id>/            bundle: config.json, rootfs (mount point)
//	<exec-root>/containers/<id>/shim/       init shim state: exit.json, init.pid, shim.log
//	<exec-root>/containers/<id>/exec/<eid>/ exec shim state and process.json
//	<exec-root>/s/<id[:16]>.sock            shim sockets (short: sun_path is 108 bytes)
package container
