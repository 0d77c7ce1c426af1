package netns_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"

	"berth/internal/network/netns"
	"berth/internal/testutil"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestNew_PersistsAndDoEntersIt(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	p := filepath.Join(t.TempDir(), "sub", "ns1")
	if err := netns.New(ctx, p); err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = netns.Delete(ctx, p) })
	own := inode(t, "/proc/thread-self/ns/net")
	made := inode(t, p)
	if made == own {
		t.Fatal("the new namespace is the caller's")
	}
	var inside uint64
	if err := netns.Do(ctx, p, func() error {
		fi, err := os.Stat("/proc/thread-self/ns/net")
		if err != nil {
			return err
		}
		inside = fi.Sys().(*syscall.Stat_t).Ino
		return nil
	}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if inside != made {
		t.Errorf("Do ran in namespace %d, want %d", inside, made)
	}
	if now := inode(t, "/proc/thread-self/ns/net"); now != own {
		t.Errorf("the caller's namespace changed")
	}
	boom := errors.New("boom")
	if err := netns.Do(ctx, p, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
	if err := netns.New(ctx, p); !errdefs.IsAlreadyExists(err) {
		t.Errorf("New over an existing path: %v, want AlreadyExists", err)
	}
	if err := netns.Delete(ctx, p); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace file still there: %v", err)
	}
	if err := netns.Delete(ctx, p); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := netns.Do(ctx, p, func() error { return nil }); !errdefs.IsNotFound(err) {
		t.Errorf("Do on a deleted namespace: %v, want NotFound", err)
	}
}

func TestDo_RejectsAFileThatIsNoNamespace(t *testing.T) {
	testutil.Require(t, testutil.Root)
	ctx := testutil.Context(t)
	p := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ran := false
	if err := netns.Do(ctx, p, func() error { ran = true; return nil }); err == nil || ran {
		t.Fatalf("Do on a plain file: err %v, ran %v", err, ran)
	}
}
