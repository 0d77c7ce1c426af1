package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
)

// Copy is the Snapshotter for file systems without overlayfs: each layer is
// kept as the complete merged tree of its chain (its parent's tree copied,
// then the layer applied with whiteouts carried out), and each container as
// a copy of its parent's tree, bind-mounted. It costs disk space and time
// in proportion to the image size, but needs nothing from the kernel beyond
// bind mounts.
type Copy struct {
	*store
}

var _ Snapshotter = (*Copy)(nil)

// NewCopy opens (creating if needed) a copy snapshotter at root.
func NewCopy(root string) (*Copy, error) {
	s, err := newStore(root, "tree")
	if err != nil {
		return nil, err
	}
	return &Copy{store: s}, nil
}

// ApplyLayer builds the tree of chainID from its parent's and r; see
// Snapshotter.
func (c *Copy) ApplyLayer(ctx context.Context, parent, chainID digest.Digest, r io.Reader) (int64, error) {
	return c.applyLayer(ctx, parent, chainID, func(data string) (int64, error) {
		if err := c.fill(ctx, parent, data); err != nil {
			return 0, err
		}
		return archive.Apply(ctx, data, r, archive.ApplyOptions{OverlayWhiteouts: false})
	})
}

// fill makes dst a copy of the tree of parent, or an empty directory.
func (c *Copy) fill(ctx context.Context, parent digest.Digest, dst string) error {
	if parent == "" {
		return os.Mkdir(dst, 0o755)
	}
	return copyTree(ctx, c.layerData(parent), dst)
}

// Prepare copies the tree of parent for the container key; see Snapshotter.
func (c *Copy) Prepare(ctx context.Context, key string, parent digest.Digest) error {
	return c.prepare(ctx, key, parent, func(dir string) error {
		return c.fill(ctx, parent, filepath.Join(dir, "tree"))
	})
}

// UpperDir returns the whole tree of key.
func (c *Copy) UpperDir(key string) string {
	return filepath.Join(c.keyDir(key), "tree")
}

// Usage returns the bytes in the tree of key.
func (c *Copy) Usage(ctx context.Context, key string) (int64, error) {
	if _, err := c.requireKey(key); err != nil {
		return 0, err
	}
	return usage(ctx, c.UpperDir(key))
}

// Mount bind-mounts the tree of key at target.
func (c *Copy) Mount(ctx context.Context, key, target string) error {
	if _, err := c.requireKey(key); err != nil {
		return err
	}
	if err := unix.Mount(c.UpperDir(key), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount %s at %s: %w", key, target, err)
	}
	return nil
}

// Unmount unmounts target.
func (c *Copy) Unmount(ctx context.Context, target string) error {
	return unmount(ctx, target)
}

// copyTree copies the tree src to the new directory dst with plain copies
// (no reflinks, no hard links between the trees), keeping types, modes,
// owners, xattrs, times and the hard links inside the tree. Symlinks are
// copied, never followed.
func copyTree(ctx context.Context, src, dst string) error {
	cp := &copier{ctx: ctx, links: map[[2]uint64]string{}, buf: make([]byte, 128*1024)}
	if err := cp.copy(src, dst); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

type copier struct {
	ctx   context.Context
	links map[[2]uint64]string
	buf   []byte
}

func (cp *copier) copy(src, dst string) error {
	if err := cp.ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		k := [2]uint64{st.Dev, st.Ino}
		if first, ok := cp.links[k]; ok {
			return os.Link(first, dst)
		}
		cp.links[k] = dst
	}
	switch typ {
	case unix.S_IFDIR:
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		names, err := readNames(src)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := cp.copy(filepath.Join(src, n), filepath.Join(dst, n)); err != nil {
				return err
			}
		}
	case unix.S_IFREG:
		if err := cp.copyFile(src, dst); err != nil {
			return err
		}
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknod(dst, st.Mode, int(st.Rdev)); err != nil {
			return &os.PathError{Op: "mknod", Path: dst, Err: err}
		}
	default:
		return nil // sockets are not copied
	}
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if typ != unix.S_IFLNK {
		// After chown, which clears the setuid and setgid bits.
		if err := unix.Chmod(dst, st.Mode&0o7777); err != nil {
			return &os.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	if err := copyXattrs(src, dst); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so io.Copy moves the
// bytes itself instead of asking the kernel for copy_file_range, which may
// share extents (reflink) between the trees.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

func (cp *copier) copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(onlyWriter{out}, onlyReader{in}, cp.buf); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func copyXattrs(src, dst string) error {
	buf := make([]byte, 64*1024)
	n, err := unix.Llistxattr(src, buf)
	if err == unix.ENOTSUP {
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "listxattr", Path: src, Err: err}
	}
	for name := range bytes.SplitSeq(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		attr := string(name)
		if strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		val := make([]byte, 64*1024)
		m, err := unix.Lgetxattr(src, attr, val)
		if err == unix.ENODATA {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "getxattr " + attr, Path: src, Err: err}
		}
		if err := unix.Lsetxattr(dst, attr, val[:m], 0); err != nil {
			return &os.PathError{Op: "setxattr " + attr, Path: dst, Err: err}
		}
	}
	return nil
}
