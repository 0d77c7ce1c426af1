package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// maxID is the largest uid or gid libcontainer accepts.
const maxID = 1<<31 - 1

// maxUserDBSize bounds how much of an image's /etc/passwd or /etc/group is
// read; real files are a few kilobytes.
const maxUserDBSize = 16 << 20

type passwdEntry struct {
	name     string
	uid, gid int
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

// ResolveUser resolves a Docker user specification against /etc/passwd and
// /etc/group inside rootfs, the way dockerd (libcontainer's user package)
// does. user is one of "", "name", "uid", "name:group", "uid:gid",
// "uid:group" or "name:gid"; "" means uid 0. groupAdd are --group-add
// entries, group names or numbers.
//
// The returned AdditionalGids hold the primary gid, then the groups that
// list the user as a member (only when no group was given), then groupAdd.
//
// The files are opened as if rootfs were "/": a symlink can never lead out
// of rootfs, and anything but a regular file is treated as missing. When
// /etc/passwd is missing only numeric users resolve. An unknown user or
// group, or an id out of range, is errdefs.ErrInvalidArgument with dockerd's
// message, e.g. "unable to find user bob: no matching entries in passwd file".
func ResolveUser(rootfs, user string, groupAdd []string) (specs.User, error) {
	passwd, err := readUserDB(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, err
	}
	group, err := readUserDB(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, err
	}
	return resolveUser(passwd, group, user, groupAdd)
}

// resolveUser is ResolveUser over the files' contents; nil means the file
// does not exist.
func resolveUser(passwdData, groupData []byte, spec string, groupAdd []string) (specs.User, error) {
	userArg, groupArg, _ := strings.Cut(spec, ":")
	groupArg, _, _ = strings.Cut(groupArg, ":")
	uidArg, uidErr := strconv.Atoi(userArg)
	gidArg, gidErr := strconv.Atoi(groupArg)

	uid, gid := 0, 0
	matched := ""
	found := false
	for _, u := range parsePasswd(passwdData) {
		var ok bool
		switch {
		case userArg == "":
			ok = u.uid == 0
		case uidErr == nil:
			ok = u.uid == uidArg
		default:
			ok = u.name == userArg
		}
		if ok {
			uid, gid, matched, found = u.uid, u.gid, u.name, true
			break
		}
	}
	if !found && userArg != "" {
		if uidErr != nil {
			return specs.User{}, errUnknownUser(userArg)
		}
		if uidArg < 0 || uidArg > maxID {
			return specs.User{}, errIDRange()
		}
		uid = uidArg
	}

	var sgids []int
	if groupArg != "" || matched != "" {
		groups := parseGroup(groupData)
		if groupArg != "" {
			foundGroup := false
			for _, g := range groups {
				if (gidErr == nil && g.gid == gidArg) || (gidErr != nil && g.name == groupArg) {
					gid, foundGroup = g.gid, true
					break
				}
			}
			if !foundGroup {
				if gidErr != nil {
					return specs.User{}, errUnknownGroup(groupArg)
				}
				if gidArg < 0 || gidArg > maxID {
					return specs.User{}, errIDRange()
				}
				gid = gidArg
			}
		} else {
			for _, g := range groups {
				for _, m := range g.members {
					if m == matched {
						sgids = append(sgids, g.gid)
						break
					}
				}
			}
		}
	}

	added, err := additionalGroups(groupData, groupAdd)
	if err != nil {
		return specs.User{}, err
	}
	out := specs.User{UID: uint32(uid), GID: uint32(gid), AdditionalGids: []uint32{uint32(gid)}}
	for _, g := range append(sgids, added...) {
		out.AdditionalGids = append(out.AdditionalGids, uint32(g))
	}
	return out, nil
}

// additionalGroups resolves --group-add entries: a group name or gid in
// /etc/group, else a number. Duplicates are dropped.
func additionalGroups(groupData []byte, names []string) ([]int, error) {
	if len(names) == 0 {
		return nil, nil
	}
	groups := parseGroup(groupData)
	seen := map[int]bool{}
	var out []int
	for _, name := range names {
		gid, ok := -1, false
		for _, g := range groups {
			if g.name == name || strconv.Itoa(g.gid) == name {
				gid, ok = g.gid, true
				break
			}
		}
		if !ok {
			n, err := strconv.ParseInt(name, 10, 64)
			if err != nil {
				return nil, errUnknownAdditionalGroup(name)
			}
			if n < 0 || n > maxID {
				return nil, errIDRange()
			}
			gid = int(n)
		}
		if !seen[gid] {
			seen[gid] = true
			out = append(out, gid)
		}
	}
	return out, nil
}

// userDBLines yields the non-empty, non-comment lines of a passwd or group
// file split at ':'.
func userDBLines(data []byte, fn func(fields []string)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxUserDBSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}

func validID(id int) bool { return id >= 0 && id <= maxID }

// parsePasswd parses passwd(5) lines. Lines whose uid or gid is not a number
// in range are skipped (libcontainer would read a non-number as 0, root).
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	userDBLines(data, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || !validID(uid) || !validID(gid) {
			return
		}
		out = append(out, passwdEntry{name: f[0], uid: uid, gid: gid})
	})
	return out
}

// parseGroup parses group(5) lines.
func parseGroup(data []byte) []groupEntry {
	var out []groupEntry
	userDBLines(data, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil || !validID(gid) {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out
}

// readUserDB reads the file at name (an absolute path inside the container)
// under rootfs. A missing file, or one that is not a regular file, reads as
// nil.
func readUserDB(rootfs, name string) ([]byte, error) {
	f, err := openInRoot(rootfs, name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s in container rootfs: %w", name, err)
	}
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUserDBSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s in container rootfs: %w", name, err)
	}
	if len(data) > maxUserDBSize {
		return nil, fmt.Errorf("%s in container rootfs is larger than %d bytes", name, maxUserDBSize)
	}
	return data, nil
}

// openInRoot opens name for reading, resolving it and every symlink on the
// way as if rootfs were the root directory (openat2 RESOLVE_IN_ROOT), so
// nothing outside rootfs is ever reached. It returns (nil, nil) when name is
// not a regular file, without ever opening a device or FIFO.
func openInRoot(rootfs, name string) (*os.File, error) {
	dir, err := os.Open(rootfs)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	var fd int
	for range 16 {
		fd, err = unix.Openat2(int(dir.Fd()), name, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.ENOSYS) {
		return openInRootFallback(rootfs, name)
	}
	if err != nil {
		return nil, &os.PathError{Op: "openat2", Path: name, Err: err}
	}
	path := os.NewFile(uintptr(fd), name)
	defer path.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil
	}
	// Re-open the O_PATH descriptor for reading through procfs: the file
	// is the one already resolved inside rootfs.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// openInRootFallback serves kernels without openat2 (before 5.6). os.Root
// refuses symlinks that would leave rootfs instead of resolving them inside
// it, which is stricter than dockerd but never escapes.
func openInRootFallback(rootfs, name string) (*os.File, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.OpenFile(strings.TrimLeft(name, "/"), os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, err
	}
	return f, nil
}
