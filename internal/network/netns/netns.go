// Package netns creates, removes and enters persistent network namespaces.
//
// A persistent namespace is a fresh network namespace bind-mounted on a file
// (berth uses /run/berth/netns/<container id>), so it lives without any
// process in it: the bridge driver configures it before the container starts,
// and the OCI runtime joins it through the path in the spec.
//
// # Threads
//
// A network namespace belongs to an OS thread, not to a process. Every
// function here that enters a namespace does so on a fresh goroutine locked to
// its thread, and moves that thread back to where it came from before it
// unlocks it. If the thread cannot be moved back, it stays locked and the Go
// runtime destroys it when the goroutine ends, so no other goroutine ever runs
// in a namespace it did not ask for. The calling goroutine's thread is never
// touched.
package netns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// threadSelf names the calling thread's network namespace.
const threadSelf = "/proc/thread-self/ns/net"

// New creates a network namespace and bind-mounts it at path, creating the
// parent directory if needed. The namespace holds only a loopback device, which
// is down. An existing file at path is an errdefs.ErrAlreadyExists error.
func New(ctx context.Context, path string) error {
	if path == "" {
		return fmt.Errorf("network namespace path: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("network namespace %s: %w", path, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadSelf, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer func() { _ = unix.Close(orig) }()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		mountErr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if mountErr != nil {
			mountErr = fmt.Errorf("bind-mount network namespace: %w", mountErr)
		}
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// The thread stays locked: the runtime ends it with this goroutine.
			errc <- errors.Join(mountErr, fmt.Errorf("return to original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- mountErr
	}()
	if err := <-errc; err != nil {
		_ = unix.Unmount(path, unix.MNT_DETACH)
		_ = os.Remove(path)
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	return nil
}

// Delete unmounts the namespace at path (lazily, so a namespace still in use by
// a process lives on until that process leaves it) and removes the file. A
// missing path is not an error, so Delete can be repeated.
func Delete(ctx context.Context, path string) error {
	if path == "" {
		return fmt.Errorf("network namespace path: %w", errdefs.ErrInvalidArgument)
	}
	// EINVAL: not a mount point (half-made by New, or already unmounted).
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network namespace %s: %w", path, err)
	}
	return nil
}

// Do runs fn on an OS thread that has entered the network namespace at path
// and returns fn's error. Sockets and netlink handles fn opens stay in that
// namespace after Do returns; everything else fn starts (goroutines, files
// under /proc/thread-self) does not. A missing path is errdefs.ErrNotFound.
func Do(ctx context.Context, path string, fn func() error) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("network namespace %s: %w", path, errdefs.ErrNotFound)
		}
		return fmt.Errorf("network namespace %s: %w", path, err)
	}
	defer func() { _ = unix.Close(fd) }()
	return DoFD(ctx, fd, fn)
}

// DoFD is Do for a namespace already open as fd, which the caller keeps.
func DoFD(ctx context.Context, fd int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadSelf, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer func() { _ = unix.Close(orig) }()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// The thread stays locked: the runtime ends it with this goroutine.
			errc <- errors.Join(fnErr, fmt.Errorf("return to original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}
