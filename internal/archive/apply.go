package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// Whiteout names, as the OCI image spec defines them.
const (
	// WhiteoutPrefix starts the name of an entry that deletes its namesake
	// from the layers below.
	WhiteoutPrefix = ".wh."
	// WhiteoutMetaPrefix starts names reserved for whiteout metadata.
	WhiteoutMetaPrefix = WhiteoutPrefix + WhiteoutPrefix
	// WhiteoutOpaqueDir marks its directory opaque: nothing of the layers
	// below shows through it.
	WhiteoutOpaqueDir = WhiteoutMetaPrefix + ".opq"
)

// Overlayfs's on-disk markers.
const (
	overlayXattrPrefix = "trusted.overlay."
	overlayOpaqueXattr = "trusted.overlay.opaque"
	paxXattrPrefix     = "SCHILY.xattr."
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// OverlayWhiteouts converts whiteouts to overlayfs's format, for
	// unpacking a layer as an overlay lower dir: ".wh.NAME" becomes a 0/0
	// character device NAME, and ".wh..wh..opq" sets
	// trusted.overlay.opaque=y on its directory. When false, whiteouts are
	// carried out on the tree below: NAME is deleted, and an opaque
	// directory loses whatever it held that did not come from this layer.
	OverlayWhiteouts bool
}

// Apply extracts the uncompressed tar stream r into the directory root
// (created if missing) and returns the number of bytes it read from r, which
// it reads to the end.
//
// Nothing is ever created outside root: paths are resolved by the kernel
// inside root (openat2 RESOLVE_IN_ROOT), so symlinks that the archive or the
// tree already holds cannot lead out, and the last component of an entry is
// never followed. Names and hard-link targets whose ".." would climb above
// root are rejected with an error wrapping errdefs.ErrInvalidArgument;
// absolute symlink targets are kept as they are. Modes (setuid, setgid and
// sticky bits included), owners, modification times and xattrs (PAX
// SCHILY.xattr.*, except trusted.overlay.*) are restored; directory times are
// set after their contents. Owners are only restored, and device nodes only
// created, when running as root. Sparse entries are rejected
// (ErrInvalidArgument): a few bytes of sparse map can stand for exabytes. A
// failed Apply leaves root partly extracted; callers extract into a
// temporary directory.
func Apply(ctx context.Context, root string, r io.Reader, opts ApplyOptions) (int64, error) {
	cr := &countingReader{r: r}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return 0, fmt.Errorf("apply: %w", err)
	}
	rd, err := openRootDir(root)
	if err != nil {
		return 0, fmt.Errorf("apply: %w", err)
	}
	defer rd.close()
	a := &applier{
		ctx:    ctx,
		root:   rd,
		opts:   opts,
		isRoot: os.Geteuid() == 0,
		buf:    make([]byte, 128*1024),
	}
	if !opts.OverlayWhiteouts {
		a.touched = make(map[string]bool)
	}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return cr.n, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// ErrInsecurePath comes with a usable header; the names are checked
		// here in any case.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return cr.n, fmt.Errorf("apply: read tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return cr.n, fmt.Errorf("apply %q: %w", hdr.Name, err)
		}
	}
	if err := a.setDirTimes(); err != nil {
		return cr.n, fmt.Errorf("apply: %w", err)
	}
	if _, err := io.CopyBuffer(io.Discard, cr, a.buf); err != nil {
		return cr.n, fmt.Errorf("apply: read tar: %w", err)
	}
	return cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type dirTime struct {
	rel          string
	atime, mtime time.Time
}

type applier struct {
	ctx    context.Context
	root   *rootDir
	opts   ApplyOptions
	isRoot bool
	buf    []byte
	dirs   []dirTime
	// touched holds the paths this layer wrote, and their parents, for
	// opaque directories when whiteouts are carried out.
	touched map[string]bool
}

func (a *applier) touch(rel string) {
	if a.touched == nil {
		return
	}
	for rel != "" && !a.touched[rel] {
		a.touched[rel] = true
		rel, _ = splitRel(rel)
	}
}

func (a *applier) entry(hdr *tar.Header, tr io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if isSparse(hdr) {
		// A few bytes of sparse map can stand for exabytes of zeros; layers
		// made by Docker and BuildKit never hold sparse files.
		return fmt.Errorf("sparse files are not supported: %w", errdefs.ErrInvalidArgument)
	}
	if rel == "" {
		return a.rootEntry(hdr)
	}
	dir, base := splitRel(rel)
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return a.whiteout(dir, base)
	}

	pfd, err := a.root.mkdirAll(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	var st unix.Stat_t
	err = unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == unix.ENOENT:
	case err != nil:
		return &os.PathError{Op: "lstat", Path: rel, Err: err}
	case hdr.Typeflag == tar.TypeDir && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		// Directories merge with what is there.
	default:
		if err := removeAt(pfd, base); err != nil {
			return err
		}
	}
	a.touch(rel)

	perm := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && err != unix.EEXIST {
			return &os.PathError{Op: "mkdir", Path: rel, Err: err}
		}
		fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return &os.PathError{Op: "open", Path: rel, Err: err}
		}
		defer unix.Close(fd)
		if err := a.fdMeta(fd, rel, hdr, perm); err != nil {
			return err
		}
		a.dirs = append(a.dirs, dirTime{rel: rel, atime: hdr.AccessTime, mtime: hdr.ModTime})
		return nil

	case tar.TypeReg:
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "create", Path: rel, Err: err}
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		if _, err := io.CopyBuffer(f, tr, a.buf); err != nil {
			return fmt.Errorf("write %s: %w", rel, err)
		}
		if err := a.fdMeta(fd, rel, hdr, perm); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("close %s: %w", rel, err)
		}
		return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)

	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return &os.PathError{Op: "symlink", Path: rel, Err: err}
		}
		if err := a.pathMeta(pfd, base, hdr, 0, false); err != nil {
			return err
		}
		return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)

	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if target == "" {
			return fmt.Errorf("hard link to the root: %w", errdefs.ErrInvalidArgument)
		}
		tdir, tbase := splitRel(target)
		tfd, err := a.root.dir(tdir)
		if err != nil {
			return fmt.Errorf("hard link target %s: %w", target, err)
		}
		defer unix.Close(tfd)
		// Without AT_SYMLINK_FOLLOW a symlink target is linked itself, not
		// followed.
		if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
			return &os.PathError{Op: "link", Path: rel + " => " + target, Err: err}
		}
		// Like Docker's extractor, a hard link's header mode is applied to
		// the (shared) inode unless it is a symlink, which has no mode.
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK {
			if err := unix.Fchmodat(pfd, base, perm, 0); err != nil {
				return &os.PathError{Op: "chmod", Path: rel, Err: err}
			}
		}
		return nil

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := perm
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		if !a.isRoot && hdr.Typeflag != tar.TypeFifo {
			log.From(a.ctx).Warn("skipping device node: not running as root", "path", rel)
			return nil
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, mode, int(dev)); err != nil {
			return &os.PathError{Op: "mknod", Path: rel, Err: err}
		}
		if err := a.pathMeta(pfd, base, hdr, perm, true); err != nil {
			return err
		}
		return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)
	}
	return fmt.Errorf("unsupported tar entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalidArgument)
}

func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// rootEntry applies a directory entry that names the root itself.
func (a *applier) rootEntry(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("entry for the root is not a directory: %w", errdefs.ErrInvalidArgument)
	}
	fd, err := a.root.openat2("", unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := a.fdMeta(fd, ".", hdr, uint32(hdr.Mode)&0o7777); err != nil {
		return err
	}
	a.dirs = append(a.dirs, dirTime{rel: "", atime: hdr.AccessTime, mtime: hdr.ModTime})
	return nil
}

// whiteout handles an entry named WhiteoutPrefix+something in dir.
func (a *applier) whiteout(dir, base string) error {
	if base == WhiteoutOpaqueDir {
		return a.opaque(dir)
	}
	if strings.HasPrefix(base, WhiteoutMetaPrefix) {
		// Other metadata (aufs hard-link directories) means nothing here.
		return nil
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout of %q: %w", name, errdefs.ErrInvalidArgument)
	}
	if a.opts.OverlayWhiteouts {
		pfd, err := a.root.mkdirAll(dir)
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		if err := removeAt(pfd, name); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return &os.PathError{Op: "mknod whiteout", Path: dir + "/" + name, Err: err}
		}
		return nil
	}
	pfd, err := a.root.dir(dir)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return removeAt(pfd, name)
}

// opaque handles the opaque marker of dir.
func (a *applier) opaque(dir string) error {
	if a.opts.OverlayWhiteouts {
		pfd, err := a.root.mkdirAll(dir)
		if err != nil {
			return err
		}
		unix.Close(pfd)
		fd, err := a.root.openat2(dir, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		if err := unix.Fsetxattr(fd, overlayOpaqueXattr, []byte("y"), 0); err != nil {
			return &os.PathError{Op: "setxattr " + overlayOpaqueXattr, Path: dir, Err: err}
		}
		return nil
	}
	a.touch(dir)
	pdir, base := splitRel(dir)
	if dir == "" {
		pdir, base = "", "."
	}
	pfd, err := a.root.dir(pdir)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	prefix := dir + "/"
	if dir == "" {
		prefix = ""
	}
	return clearDirAt(pfd, base, func(child string, _ bool) (bool, bool) {
		keep := a.touched[prefix+child]
		return keep, keep
	})
}

// fdMeta sets owner, mode and xattrs through an open descriptor.
func (a *applier) fdMeta(fd int, rel string, hdr *tar.Header, perm uint32) error {
	if a.isRoot {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return &os.PathError{Op: "chown", Path: rel, Err: err}
		}
	}
	// After chown, which clears the setuid and setgid bits.
	if err := unix.Fchmod(fd, perm); err != nil {
		return &os.PathError{Op: "chmod", Path: rel, Err: err}
	}
	for name, value := range xattrs(hdr) {
		if err := unix.Fsetxattr(fd, name, []byte(value), 0); err != nil {
			if err := a.xattrError(rel, name, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// pathMeta sets owner, xattrs and (with chmod) mode of base in pfd without
// following it; chmod is only asked for entries that cannot be symlinks.
func (a *applier) pathMeta(pfd int, base string, hdr *tar.Header, perm uint32, chmod bool) error {
	if a.isRoot {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "lchown", Path: hdr.Name, Err: err}
		}
	}
	if chmod {
		if err := unix.Fchmodat(pfd, base, perm, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: hdr.Name, Err: err}
		}
	}
	for name, value := range xattrs(hdr) {
		if err := unix.Lsetxattr(procPath(pfd, base), name, []byte(value), 0); err != nil {
			if err := a.xattrError(hdr.Name, name, err); err != nil {
				return err
			}
		}
	}
	return nil
}

// xattrError lets an xattr that the file system or our privileges cannot
// hold pass with a warning, as Docker does.
func (a *applier) xattrError(rel, name string, err error) error {
	if err == unix.ENOTSUP || err == unix.EPERM {
		log.From(a.ctx).Warn("ignoring xattr", "path", rel, "xattr", name, "err", err)
		return nil
	}
	return &os.PathError{Op: "setxattr " + name, Path: rel, Err: err}
}

// xattrs yields the extended attributes of hdr that may be restored.
func xattrs(hdr *tar.Header) func(func(string, string) bool) {
	return func(yield func(string, string) bool) {
		for k, v := range hdr.PAXRecords {
			name, ok := strings.CutPrefix(k, paxXattrPrefix)
			if !ok || name == "" || strings.HasPrefix(name, overlayXattrPrefix) {
				continue
			}
			if !yield(name, v) {
				return
			}
		}
	}
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// setTimes sets the times of base in pfd without following it. A missing
// access time takes the modification time.
func setTimes(pfd int, base string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: base, Err: err}
	}
	return nil
}

// setDirTimes sets directory times last, deepest first, once their contents
// stopped changing.
func (a *applier) setDirTimes() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		pdir, base := splitRel(d.rel)
		if d.rel == "" {
			base = "."
		}
		pfd, err := a.root.dir(pdir)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return err
		}
		err = setTimes(pfd, base, d.atime, d.mtime)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}
