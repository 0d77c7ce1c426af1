package testutil

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EnterNetNS moves the calling test goroutine into a new network namespace of
// its own, with its loopback device up, and returns a path that names that
// namespace while the test runs. The goroutine's OS thread is locked for the
// rest of the test; a cleanup moves it back (cleanups run on the test's
// goroutine after the test function returns, also on failure). If it cannot
// return, the thread stays locked and the runtime ends it with the goroutine.
//
// Everything the test does on its own goroutine (netlink calls, sysctl writes,
// dials) then happens in that namespace, so the host never sees the links,
// addresses and traffic the test makes. Goroutines the test starts run in the
// host's namespace unless they enter one themselves. Tests that call
// EnterNetNS must not call t.Parallel.
func EnterNetNS(t testing.TB) string {
	t.Helper()
	Require(t, Root)
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own network namespace: %v", err)
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		_ = orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("unshare network namespace: %v", err)
	}
	t.Cleanup(func() {
		defer func() { _ = orig.Close() }()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("return to original network namespace: %v (thread abandoned)", err)
			return
		}
		runtime.UnlockOSThread()
	})
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatalf("test namespace: %v", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatalf("test namespace: lo up: %v", err)
	}
	return fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
}
