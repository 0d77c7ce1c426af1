package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// cleanName turns the name of a tar entry into a path relative to the root
// of the extraction: "" is the root itself. Leading slashes and "." are
// dropped and ".." is resolved lexically; a name whose ".." would climb above
// the root is rejected with errdefs.ErrInvalidArgument.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("name %q contains NUL: %w", name, errdefs.ErrInvalidArgument)
	}
	var parts []string
	for p := range strings.SplitSeq(name, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", fmt.Errorf("name %q escapes the root: %w", name, errdefs.ErrInvalidArgument)
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/"), nil
}

// splitRel splits a cleaned relative path into its parent ("" for the root)
// and its last component.
func splitRel(rel string) (dir, base string) {
	dir, base = path.Split(rel)
	return strings.TrimSuffix(dir, "/"), base
}

// rootDir is a directory opened once; every path below it is resolved by the
// kernel with RESOLVE_IN_ROOT, so symlinks (absolute ones and ".." alike) can
// never lead out of it, and the last component of a path is only ever used
// with the *at calls that do not follow it.
type rootDir struct {
	path string
	fd   int
}

func openRootDir(p string) (*rootDir, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: p, Err: err}
	}
	return &rootDir{path: p, fd: fd}, nil
}

func (r *rootDir) close() { unix.Close(r.fd) }

// openat2 resolves rel inside the root. A rename elsewhere in the tree can
// make the kernel answer EAGAIN; the lookup is retried then.
func (r *rootDir) openat2(rel string, flags uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for range 16 {
		fd, err := unix.Openat2(r.fd, rel, &how)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat2", Path: rel, Err: err}
		}
		return fd, nil
	}
	return -1, &os.PathError{Op: "openat2", Path: rel, Err: unix.EAGAIN}
}

// dir returns an O_PATH descriptor of the directory rel.
func (r *rootDir) dir(rel string) (int, error) {
	return r.openat2(rel, unix.O_PATH|unix.O_DIRECTORY)
}

// mkdirAll returns an O_PATH descriptor of the directory rel, creating the
// missing directories on the way with mode 0755.
func (r *rootDir) mkdirAll(rel string) (int, error) {
	fd, err := r.dir(rel)
	if err == nil || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	parent, base := splitRel(rel)
	pfd, err := r.mkdirAll(parent)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	if err := unix.Mkdirat(pfd, base, 0o755); err != nil && err != unix.EEXIST {
		return -1, &os.PathError{Op: "mkdir", Path: rel, Err: err}
	} else if err == nil {
		// The umask may have narrowed the mode; the entry is a directory we
		// just made, so following is harmless here.
		if err := unix.Fchmodat(pfd, base, 0o755, 0); err != nil {
			return -1, &os.PathError{Op: "chmod", Path: rel, Err: err}
		}
	}
	return r.dir(rel)
}

// procPath names the entry base inside the directory open as dirfd, for the
// calls (lsetxattr) that have no *at form.
func procPath(dirfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
}

// removeAt removes name in dirfd and, for a directory, everything below it,
// without following any symlink. A missing name is not an error.
func removeAt(dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "unlink", Path: name, Err: err}
		}
		return nil
	}
	if err := clearDirAt(dirfd, name, nil); err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "rmdir", Path: name, Err: err}
	}
	return nil
}

// clearDirAt removes the contents of the directory name in dirfd. keep, when
// set, is asked about every child (by its name) and answers whether to keep
// it, and whether to descend into it (for a directory that is kept).
func clearDirAt(dirfd int, name string, keep func(child string, isDir bool) (keepIt, descend bool)) error {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	// All names are read before anything is removed: removing entries while
	// reading the directory may make the reading skip some.
	names, err := f.Readdirnames(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: name, Err: err}
	}
	for _, n := range names {
		if keep != nil {
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &os.PathError{Op: "lstat", Path: n, Err: err}
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			k, descend := keep(n, isDir)
			if k {
				if descend && isDir {
					if err := clearDirAt(fd, n, func(c string, d bool) (bool, bool) { return keep(n+"/"+c, d) }); err != nil {
						return err
					}
				}
				continue
			}
		}
		if err := removeAt(fd, n); err != nil {
			return err
		}
	}
	return nil
}
