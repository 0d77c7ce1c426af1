package volume_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"berth/internal/testutil"
)

// mountedAt reports whether path is a mount point, from /proc/self/mountinfo,
// and its filesystem type and super options.
func mountedAt(t *testing.T, path string) (bool, string, string) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != path {
			continue
		}
		for i := 6; i < len(f)-3; i++ {
			if f[i] == "-" {
				return true, f[i+1], f[i+3]
			}
		}
	}
	return false, "", ""
}

// cleanupMount detaches path at the end of the test, also on failure.
func cleanupMount(t *testing.T, path string) {
	t.Cleanup(func() {
		for range 4 {
			if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
				return
			}
		}
	})
}

func TestLocal_TmpfsVolume(t *testing.T) {
	testutil.Require(t, testutil.Root)
	e := newEnv(t)
	ctx := testutil.Context(t)
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m,uid=1000,mode=0750,nosuid"}
	v, err := e.store.Create(ctx, "tmp", "local", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleanupMount(t, v.Mountpoint)
	if ok, _, _ := mountedAt(t, v.Mountpoint); ok {
		t.Fatal("mounted at create")
	}
	p1, err := e.store.Mount(ctx, "tmp", "c1")
	if err != nil {
		t.Fatal(err)
	}
	ok, fstype, super := mountedAt(t, p1)
	if !ok || fstype != "tmpfs" || !strings.Contains(super, "size=1024k") || !strings.Contains(super, "uid=1000") || !strings.Contains(super, "mode=750") {
		t.Fatalf("mount: %v %s %s", ok, fstype, super)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p1, &st); err != nil || st.Flags&unix.ST_NOSUID == 0 {
		t.Fatalf("nosuid not applied: %#x %v", st.Flags, err)
	}
	if err := os.WriteFile(filepath.Join(p1, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second user shares the mount; the first unmount keeps it.
	if _, err := e.store.Mount(ctx, "tmp", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Unmount(ctx, "tmp", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p1, "f")); err != nil {
		t.Fatalf("unmounted while c2 uses it: %v", err)
	}
	// A daemon restart keeps the count: the last unmount still unmounts.
	e.restart(t)
	if err := e.store.Remove(ctx, "tmp", false); !errdefs.IsConflict(err) {
		t.Fatalf("remove while mounted: %v", err)
	}
	if err := e.store.Unmount(ctx, "tmp", "c2"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := mountedAt(t, p1); ok {
		t.Fatal("still mounted after the last unmount")
	}
	if err := e.store.Remove(ctx, "tmp", false); err != nil {
		t.Fatal(err)
	}
}

func TestLocal_BindVolume(t *testing.T) {
	testutil.Require(t, testutil.Root)
	e := newEnv(t)
	ctx := testutil.Context(t)
	dev := t.TempDir()
	if err := os.WriteFile(filepath.Join(dev, "keep"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    string
		ro   bool
	}{
		{name: "bind", o: "bind"},
		{name: "rbind ro", o: "rbind,ro", ro: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "-")
			v, err := e.store.Create(ctx, name, "", map[string]string{"type": "none", "device": dev, "o": tt.o}, nil)
			if err != nil {
				t.Fatal(err)
			}
			cleanupMount(t, v.Mountpoint)
			p, err := e.store.Mount(ctx, name, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(p, "keep")); err != nil || string(b) != "precious" {
				t.Fatalf("bind content: %q %v", b, err)
			}
			err = os.WriteFile(filepath.Join(p, "w"), nil, 0o644)
			if tt.ro != (err != nil) {
				t.Fatalf("write on ro=%v: %v", tt.ro, err)
			}
			_ = os.Remove(filepath.Join(dev, "w"))
			if err := e.store.Unmount(ctx, name, "c1"); err != nil {
				t.Fatal(err)
			}
			if err := e.store.Remove(ctx, name, false); err != nil {
				t.Fatal(err)
			}
			// Removing the volume never touches the bound directory.
			if b, err := os.ReadFile(filepath.Join(dev, "keep")); err != nil || string(b) != "precious" {
				t.Fatalf("device data after remove: %q %v", b, err)
			}
		})
	}
}

func TestLocal_RemoveWhileMountedKeepsDeviceData(t *testing.T) {
	testutil.Require(t, testutil.Root)
	e := newEnv(t)
	ctx := testutil.Context(t)
	dev := t.TempDir()
	if err := os.WriteFile(filepath.Join(dev, "keep"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := e.store.Create(ctx, "stale", "", map[string]string{"type": "none", "device": dev, "o": "bind"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cleanupMount(t, v.Mountpoint)
	// Mounted, then the record's mount id is lost (as after a crash between
	// mount and commit): remove must unmount before deleting anything.
	if _, err := e.store.Mount(ctx, "stale", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, v.Mountpoint, "", unix.MS_BIND, ""); err != nil { // stack a second mount
		t.Fatal(err)
	}
	if err := e.store.Unmount(ctx, "stale", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Remove(ctx, "stale", false); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dev, "keep")); err != nil || string(b) != "precious" {
		t.Fatalf("device data after remove: %q %v", b, err)
	}
}

func TestLocal_MountErrors(t *testing.T) {
	testutil.Require(t, testutil.Root)
	e := newEnv(t)
	ctx := testutil.Context(t)
	tests := []struct {
		name string
		opts map[string]string
		want string
	}{
		{name: "missing bind source", opts: map[string]string{"type": "none", "device": "/nonexistent/berth-test", "o": "bind"}, want: "failed to mount local volume"},
		{name: "none without bind", opts: map[string]string{"type": "none", "device": "/tmp"}, want: "type none needs o=bind"},
		{name: "unknown fs", opts: map[string]string{"type": "berthfs", "device": "x"}, want: "failed to mount local volume"},
		{name: "password redacted", opts: map[string]string{"type": "berthfs", "device": "//127.0.0.1/share", "o": "user=u,password=hunter2"}, want: "password=********"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "bad" + string(rune('a'+i))
			v, err := e.store.Create(ctx, name, "", tt.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			cleanupMount(t, v.Mountpoint)
			_, err = e.store.Mount(ctx, name, "c1")
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if ok, _, _ := mountedAt(t, v.Mountpoint); ok {
				t.Fatal("left mounted")
			}
			// The failed mount recorded no user: the volume can go.
			if err := e.store.Remove(ctx, name, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLocal_SeedKeepsOwnersAndXattrs(t *testing.T) {
	testutil.Require(t, testutil.Root)
	e := newEnv(t)
	ctx := testutil.Context(t)
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "etc", "app"), 0o755))
	must(os.WriteFile(filepath.Join(src, "etc", "app", "conf"), []byte("k=v"), 0o600))
	must(os.Chown(filepath.Join(src, "etc", "app", "conf"), 1000, 1001))
	must(os.Chown(filepath.Join(src, "etc", "app"), 1000, 1001))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("#!"), 0o755))
	must(os.Chown(filepath.Join(src, "suid"), 1000, 1000))
	must(unix.Chmod(filepath.Join(src, "suid"), 0o4755))
	must(os.Link(filepath.Join(src, "suid"), filepath.Join(src, "hard")))
	must(os.Symlink("etc/app/conf", filepath.Join(src, "sym")))
	must(os.Lchown(filepath.Join(src, "sym"), 1002, 1002))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o620))
	must(unix.Chmod(filepath.Join(src, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	xattrOK := unix.Setxattr(filepath.Join(src, "etc", "app", "conf"), "user.berth", []byte("yes"), 0) == nil
	must(os.Chown(src, 33, 33))
	must(unix.Chmod(src, 0o1777))

	for _, c := range []struct {
		name string
		opts map[string]string
	}{
		{"seed-plain", nil},
		{"seed-tmpfs", map[string]string{"type": "tmpfs", "device": "tmpfs"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := e.store.Create(ctx, c.name, "", c.opts, nil)
			must(err)
			cleanupMount(t, v.Mountpoint)
			dst, err := e.store.Mount(ctx, c.name, "c1")
			must(err)
			must(e.store.Seed(ctx, c.name, src))
			check := func(rel string, uid, gid uint32, perm os.FileMode) {
				t.Helper()
				fi, err := os.Lstat(filepath.Join(dst, rel))
				must(err)
				st := fi.Sys().(*syscall.Stat_t)
				if st.Uid != uid || st.Gid != gid || (perm != 0 && fi.Mode()&(os.ModePerm|os.ModeSetuid|os.ModeSticky) != perm) {
					t.Errorf("%s: %d:%d %v, want %d:%d %v", rel, st.Uid, st.Gid, fi.Mode(), uid, gid, perm)
				}
			}
			check(".", 33, 33, 0o777|os.ModeSticky)
			check("etc/app", 1000, 1001, 0o755)
			check("etc/app/conf", 1000, 1001, 0o600)
			check("suid", 1000, 1000, 0o755|os.ModeSetuid)
			check("sym", 1002, 1002, 0)
			if l, _ := os.Readlink(filepath.Join(dst, "sym")); l != "etc/app/conf" {
				t.Errorf("symlink %q", l)
			}
			a, _ := os.Stat(filepath.Join(dst, "suid"))
			b, _ := os.Stat(filepath.Join(dst, "hard"))
			if !os.SameFile(a, b) {
				t.Error("hard link not kept")
			}
			if fi, err := os.Lstat(filepath.Join(dst, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o620 {
				t.Errorf("fifo %v %v", fi, err)
			}
			if fi, err := os.Lstat(filepath.Join(dst, "null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("device %v %v", fi, err)
			}
			if xattrOK {
				buf := make([]byte, 16)
				n, err := unix.Getxattr(filepath.Join(dst, "etc", "app", "conf"), "user.berth", buf)
				if err != nil || !bytes.Equal(buf[:n], []byte("yes")) {
					t.Errorf("xattr %q %v", buf[:n], err)
				}
			}
			must(e.store.Unmount(ctx, c.name, "c1"))
			must(e.store.Remove(ctx, c.name, false))
		})
	}
}
