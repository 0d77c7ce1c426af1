// Package volume manages Docker volumes for berth: named and anonymous
// volumes of the built-in "local" driver and of volume plugins, their
// records, reference counts and mounts, and the copy of an image's content
// into a new volume.
//
// # What it owns
//
// Bucket "volumes" of the metadata file (one JSON record per volume name:
// driver, labels, options, scope, creation time, the containers holding it
// and the ids it is mounted for) and the directory Config.Root:
//
//	<root>/<name>/_data    a local volume's data, or the mountpoint of the
//	                       filesystem its type/device/o options describe
//
// References (Acquire/Release) and mounts (Mount/Unmount) are stored, so
// they survive a daemon restart: a volume in use stays protected from
// Remove and Prune, and the last Unmount after a restart still unmounts.
// Whether a local volume is mounted is read from the kernel, never assumed.
//
// # Drivers
//
// The local driver follows dockerd's: options type, device and o as
// mount(8) takes them (`type=tmpfs,device=tmpfs,o=size=100m,uid=1000`,
// `type=none,device=/path,o=bind`, `type=nfs,o=addr=host,…`), mounted on
// first use and unmounted when the last user goes. Any other driver name is
// a volume plugin speaking Docker's protocol (package plugin), looked up in
// Config.PluginDirs on every use, so a plugin started after berthd needs no
// restart. Plugins get every Mount and Unmount with its id and keep their
// own counts, as in Docker.
//
// # What it does not do
//
// Bind mounts and tmpfs mounts of containers (--mount type=bind|tmpfs) are
// not volumes and belong to the runtime spec; parsing -v/--mount belongs to
// the container component, which calls Create, Acquire, Mount, Seed,
// Unmount and Release. Events are published by the caller.
//
// # Concurrency
//
// A Store is safe for concurrent use. Calls on one volume name are
// serialized; calls on different names run in parallel. Plugin calls are
// bounded by Config.PluginTimeout.
//
// # Errors
//
// Errors carry dockerd's texts ("create x: …", "get x: no such volume",
// "remove x: volume is in use - [id]") as *OpError, and errdefs classes for
// the API's status codes.
package volume
