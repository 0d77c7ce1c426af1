package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"# a comment\n\n" +
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n" +
		"user:x:1000:1000:user:/home/user:/bin/sh\n" +
		"broken:x:notanumber:0::/:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	testGroup = "root:x:0:\n" +
		"daemon:x:1:\n" +
		"staff:x:50:user,daemon\n" +
		"audio:x:29:user\n" +
		"user:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// fakeRootfs returns a directory holding etc/passwd and etc/group.
func fakeRootfs(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"passwd": passwd, "group": group} {
		if data == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestResolveUser(t *testing.T) {
	root := fakeRootfs(t, testPasswd, testGroup)
	tests := []struct {
		user     string
		groupAdd []string
		uid, gid uint32
		gids     []uint32
		wantErr  string
	}{
		{user: "", uid: 0, gid: 0, gids: []uint32{0}},
		{user: "root", uid: 0, gid: 0, gids: []uint32{0}},
		{user: "user", uid: 1000, gid: 1000, gids: []uint32{1000, 50, 29}},
		{user: "1000", uid: 1000, gid: 1000, gids: []uint32{1000, 50, 29}},
		{user: "daemon", uid: 1, gid: 1, gids: []uint32{1, 50}},
		{user: "1000:50", uid: 1000, gid: 50, gids: []uint32{50}},
		{user: "user:staff", uid: 1000, gid: 50, gids: []uint32{50}},
		{user: "1000:nogroup", uid: 1000, gid: 65534, gids: []uint32{65534}},
		{user: "4242", uid: 4242, gid: 0, gids: []uint32{0}},
		{user: "4242:4343", uid: 4242, gid: 4343, gids: []uint32{4343}},
		{user: "user", groupAdd: []string{"audio", "777", "nogroup", "65534"}, uid: 1000, gid: 1000, gids: []uint32{1000, 50, 29, 29, 777, 65534}},
		{user: "", groupAdd: []string{"staff"}, uid: 0, gid: 0, gids: []uint32{0, 50}},
		{user: "bob", wantErr: "unable to find user bob: no matching entries in passwd file"},
		{user: "broken", wantErr: "unable to find user broken: no matching entries in passwd file"},
		{user: "bob:staff", wantErr: "unable to find user bob: no matching entries in passwd file"},
		{user: "user:wheel", wantErr: "unable to find group wheel: no matching entries in group file"},
		{user: "-1", wantErr: "uids and gids must be in range 0-2147483647"},
		{user: "0:4294967296", wantErr: "uids and gids must be in range 0-2147483647"},
		{user: "", groupAdd: []string{"wheel"}, wantErr: "Unable to find group wheel: no matching entries in group file"},
		{user: "", groupAdd: []string{"-5"}, wantErr: "uids and gids must be in range 0-2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			u, err := ResolveUser(root, tt.user, tt.groupAdd)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want invalid argument %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.UID != tt.uid || u.GID != tt.gid || !slices.Equal(u.AdditionalGids, tt.gids) {
				t.Errorf("got uid %d gid %d gids %v, want %d %d %v", u.UID, u.GID, u.AdditionalGids, tt.uid, tt.gid, tt.gids)
			}
		})
	}
}

func TestResolveUser_MissingFiles(t *testing.T) {
	root := t.TempDir()
	u, err := ResolveUser(root, "123:456", nil)
	if err != nil || u.UID != 123 || u.GID != 456 {
		t.Fatalf("numeric user without passwd: %+v, %v", u, err)
	}
	if u, err := ResolveUser(root, "", nil); err != nil || u.UID != 0 || u.GID != 0 {
		t.Fatalf("default user without passwd: %+v, %v", u, err)
	}
	if _, err := ResolveUser(root, "user", nil); err == nil || err.Error() != "unable to find user user: no matching entries in passwd file" {
		t.Fatalf("named user without passwd: %v", err)
	}
	if _, err := ResolveUser(root, "0:staff", nil); err == nil || err.Error() != "unable to find group staff: no matching entries in group file" {
		t.Fatalf("named group without group file: %v", err)
	}
}

func TestResolveUser_SymlinksStayInRootfs(t *testing.T) {
	outside := t.TempDir()
	evil := "root:x:0:0::/:/bin/sh\nevil:x:4321:4321::/:/bin/sh\n"
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte(evil), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target string
	}{
		{name: "absolute", target: filepath.Join(outside, "passwd")},
		{name: "relative dot-dot", target: "../../../../../../../../../.." + filepath.Join(outside, "passwd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRootfs(t, "", testGroup)
			if err := os.Symlink(tt.target, filepath.Join(root, "etc", "passwd")); err != nil {
				t.Fatal(err)
			}
			_, err := ResolveUser(root, "evil", nil)
			if err == nil || err.Error() != "unable to find user evil: no matching entries in passwd file" {
				t.Fatalf("symlink out of rootfs was followed: err = %v", err)
			}
		})
	}

	t.Run("absolute link resolved inside rootfs", func(t *testing.T) {
		root := fakeRootfs(t, "", testGroup)
		if err := os.MkdirAll(filepath.Join(root, "usr", "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "usr", "lib", "passwd"), []byte(testPasswd), 0o644); err != nil {
			t.Fatal(err)
		}
		// Absolute within the image: means <rootfs>/usr/lib/passwd.
		if err := os.Symlink("/usr/lib/passwd", filepath.Join(root, "etc", "passwd")); err != nil {
			t.Fatal(err)
		}
		u, err := ResolveUser(root, "user", nil)
		if err != nil || u.UID != 1000 {
			t.Fatalf("got %+v, %v", u, err)
		}
	})

	t.Run("fifo is not opened", func(t *testing.T) {
		root := fakeRootfs(t, "", testGroup)
		if err := unix.Mkfifo(filepath.Join(root, "etc", "passwd"), 0o644); err != nil {
			t.Fatalf("mkfifo: %v", err)
		}
		if _, err := ResolveUser(root, "user", nil); err == nil {
			t.Fatal("expected unknown user")
		}
	})
}

func FuzzResolveUser(f *testing.F) {
	f.Add([]byte(testPasswd), []byte(testGroup), "user", "staff")
	f.Add([]byte("x:x:99999999999999999999:0\n"), []byte("g:x:-1:x,y,,\n"), "x:g", "-1")
	f.Add([]byte("::::::::\n:\n"), []byte(":::\n"), ":", "")
	f.Add([]byte("a:b:0:0\r\n"), []byte{0xff, ':', 0}, "0:0:0", "2147483648")
	f.Fuzz(func(t *testing.T, passwd, group []byte, spec, add string) {
		var groupAdd []string
		if add != "" {
			groupAdd = []string{add}
		}
		u, err := resolveUser(passwd, group, spec, groupAdd)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(u.AdditionalGids) == 0 || u.AdditionalGids[0] != u.GID {
			t.Fatalf("primary gid missing from %v", u.AdditionalGids)
		}
		if u.UID > maxID || u.GID > maxID {
			t.Fatalf("id out of range: %+v", u)
		}
	})
}
