// Package spec turns a Docker container configuration (container.Config and
// container.HostConfig from the Engine API types) into the OCI runtime spec
// that runc runs, with dockerd's defaults: the default capability set and
// seccomp profile, the default mounts, masked and read-only /proc and /sys
// paths, the default device cgroup rules, PATH/HOSTNAME/TERM in the
// environment, Docker's -v/--mount/--tmpfs semantics and the user lookup in
// the image's /etc/passwd and /etc/group.
//
// # What it owns and what it does not
//
// Generate is a pure translation plus a few reads of the host that dockerd
// also makes (the capabilities of this process, whether the host runs
// cgroup v2, which sysctls exist, the host's device nodes for privileged
// containers) and reads of the container's root filesystem for the user
// lookup. The only change it makes on disk is Docker's creation of a
// missing -v bind source directory.
//
// It does not set up networking, volumes, the container's /etc files or its
// cgroup parent: the caller passes their results in [Input] (NetNSPath,
// EtcFiles, CgroupsPath). Named and anonymous volumes (mount type "volume",
// a -v source that is not an absolute path) are refused with
// errdefs.ErrNotImplemented; the volume component resolves them.
//
// # Concurrency
//
// The package keeps no state; Generate and ResolveUser may be called
// concurrently.
//
// # Errors
//
// Invalid configuration is reported as errdefs.ErrInvalidArgument carrying
// dockerd's message text (see errors.go), so the API server returns the
// same status and message as Docker.
package spec
