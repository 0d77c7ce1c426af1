package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Seed copies srcDir, an image's content at a volume's mount path, into
// volume name, as dockerd does when a container first mounts a new volume:
// only when the volume is empty, and keeping modes, owners, timestamps,
// extended attributes, symlinks, hard links and device nodes; the volume's
// root takes srcDir's mode and owner. A srcDir that does not exist copies
// nothing. The caller skips Seed for nocopy mounts. A volume that needs
// mounting (options, plugins) must be mounted first: otherwise the error
// is errdefs.ErrFailedPrecondition. Errors are *OpError "seed NAME: …".
func (s *Store) Seed(ctx context.Context, name, srcDir string) error {
	unlock := s.locks.lock(name)
	defer unlock()
	rec, err := s.lookup(ctx, name)
	if err != nil {
		return opErr("get", name, err)
	}
	d, err := s.driver(ctx, rec.Driver)
	if err != nil {
		return opErr("seed", name, err)
	}
	dst, err := d.path(ctx, rec)
	if err != nil {
		return opErr("seed", name, err)
	}
	if dst == "" {
		return opErr("seed", name, fmt.Errorf("volume is not mounted: %w", errdefs.ErrFailedPrecondition))
	}
	if err := seedDir(ctx, srcDir, dst); err != nil {
		return opErr("seed", name, err)
	}
	return nil
}

// seedDir copies src into dst when dst is empty.
func seedDir(ctx context.Context, src, dst string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("copy-up source %s is not a directory: %w", src, errdefs.ErrInvalidArgument)
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return nil
	}
	c := &copier{ctx: ctx, links: map[fileID]string{}}
	return c.copyTree(src, dst)
}

type fileID struct{ dev, ino uint64 }

// copier copies a tree without following symlinks; links maps inodes with
// several links to their first copy.
type copier struct {
	ctx   context.Context
	links map[fileID]string
	n     int
	// dirs get their metadata after their content, deepest first, so that
	// writing into them does not change their times and a read-only mode
	// does not get in the way.
	dirs []pendingDir
}

type pendingDir struct {
	src, dst string
	fi       fs.FileInfo
	st       *syscall.Stat_t
}

func (c *copier) copyTree(src, dst string) error {
	err := c.walk(src, dst)
	if err != nil {
		return err
	}
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := c.dirs[i]
		if err := copyMeta(d.src, d.dst, d.fi, d.st); err != nil {
			return fmt.Errorf("copy %s: %w", d.src, err)
		}
	}
	return nil
}

func (c *copier) walk(src, dst string) error {
	return filepath.WalkDir(src, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if c.n++; c.n%256 == 0 {
			if err := c.ctx.Err(); err != nil {
				return err
			}
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no stat data", path)
		}
		if err := c.copyEntry(path, target, fi, st, rel == "."); err != nil {
			return fmt.Errorf("copy %s: %w", path, err)
		}
		return nil
	})
}

func (c *copier) copyEntry(path, target string, fi fs.FileInfo, st *syscall.Stat_t, root bool) error {
	mode := fi.Mode()
	if !mode.IsDir() && st.Nlink > 1 {
		id := fileID{uint64(st.Dev), st.Ino}
		if first, ok := c.links[id]; ok {
			return os.Link(first, target)
		}
		c.links[id] = target
	}
	switch {
	case mode.IsDir():
		if !root {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
		c.dirs = append(c.dirs, pendingDir{path, target, fi, st})
		return nil
	case mode.IsRegular():
		if err := copyFile(path, target); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(path)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil {
			return err
		}
	case mode&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
			return err
		}
	default:
		return nil // sockets are not copied, as in a tar copy
	}
	return copyMeta(path, target, fi, st)
}

func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyMeta applies owner, mode (after the owner, which clears set-id bits),
// extended attributes and times, without following symlinks.
func copyMeta(src, dst string, fi fs.FileInfo, st *syscall.Stat_t) error {
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// copyXattrs copies every extended attribute; a destination filesystem
// without support for one is not an error.
func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("list xattrs: %w", err)
	}
	if size == 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(src, buf)
	if err != nil {
		return fmt.Errorf("list xattrs: %w", err)
	}
	for _, name := range splitNull(buf[:size]) {
		vsize, err := unix.Lgetxattr(src, name, nil)
		if err != nil {
			return fmt.Errorf("get xattr %s: %w", name, err)
		}
		val := make([]byte, vsize)
		if vsize > 0 {
			if vsize, err = unix.Lgetxattr(src, name, val); err != nil {
				return fmt.Errorf("get xattr %s: %w", name, err)
			}
		}
		if err := unix.Lsetxattr(dst, name, val[:vsize], 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return fmt.Errorf("set xattr %s: %w", name, err)
		}
	}
	return nil
}

func splitNull(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}

// dirSize adds up the sizes of the files under dir, counting a hard-linked
// inode once, as dockerd's `system df` does.
func dirSize(ctx context.Context, dir string) (int64, error) {
	seen := map[fileID]bool{}
	var size int64
	n := 0
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if n++; n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if de.IsDir() {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if fi.Size() == 0 {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			id := fileID{uint64(st.Dev), st.Ino}
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		size += fi.Size()
		return nil
	})
	return size, err
}
