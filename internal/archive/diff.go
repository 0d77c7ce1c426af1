package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// WriteOption tunes Diff and Tar.
type WriteOption func(*writeOptions)

type writeOptions struct {
	epoch *time.Time
}

// WithSourceDateEpoch clamps every modification time written to t, so that
// the same tree always gives the same bytes (SOURCE_DATE_EPOCH).
func WithSourceDateEpoch(t time.Time) WriteOption {
	return func(o *writeOptions) { o.epoch = &t }
}

// Diff writes to w an OCI layer tar of the overlayfs upper dir upper: 0/0
// character devices become ".wh.NAME" entries and directories marked
// trusted.overlay.opaque=y are followed by a ".wh..wh..opq" entry. Entries
// come in a fixed order (each directory before its contents, names sorted),
// files that share an inode are written once and then as hard links, times
// are truncated to seconds, and xattrs are kept as PAX records except
// trusted.overlay.*. The root of upper itself is not written.
//
// Files are opened without following symlinks, so a tree that changes while
// it is read (a running container) cannot make Diff read outside it; the
// result is only consistent if nothing writes to upper meanwhile.
func Diff(ctx context.Context, w io.Writer, upper string, opts ...WriteOption) error {
	return write(ctx, w, upper, true, opts)
}

// Tar writes to w a tar of the tree dir, as Diff does but without turning
// anything into whiteouts: devices stay devices.
func Tar(ctx context.Context, w io.Writer, dir string, opts ...WriteOption) error {
	return write(ctx, w, dir, false, opts)
}

type inode struct{ dev, ino uint64 }

type tarWriter struct {
	ctx       context.Context
	tw        *tar.Writer
	whiteouts bool
	opts      writeOptions
	links     map[inode]string
	buf       []byte
}

func write(ctx context.Context, w io.Writer, dir string, whiteouts bool, opts []WriteOption) error {
	t := &tarWriter{
		ctx:       ctx,
		tw:        tar.NewWriter(w),
		whiteouts: whiteouts,
		links:     make(map[inode]string),
		buf:       make([]byte, 128*1024),
	}
	for _, o := range opts {
		o(&t.opts)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tar %s: %w", dir, &os.PathError{Op: "open", Path: dir, Err: err})
	}
	if err := t.dir(fd, ""); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return nil
}

// dir writes the contents of the directory open as fd, whose path in the tar
// is rel ("" for the root), and closes fd.
func (t *tarWriter) dir(fd int, rel string) error {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("readdir %s: %w", rel, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		if err := t.entry(fd, rel, name); err != nil {
			return err
		}
	}
	return nil
}

func (t *tarWriter) modTime(ts unix.Timespec) time.Time {
	m := time.Unix(ts.Sec, 0)
	if t.opts.epoch != nil && m.After(*t.opts.epoch) {
		m = t.opts.epoch.Truncate(time.Second)
	}
	return m
}

// marker writes an empty entry (a whiteout or opaque marker).
func (t *tarWriter) marker(name string, mtime time.Time) error {
	return t.tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	})
}

func (t *tarWriter) entry(dirfd int, parent, name string) error {
	rel := name
	if parent != "" {
		rel = parent + "/" + name
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "lstat", Path: rel, Err: err}
	}
	mtime := t.modTime(st.Mtim)
	typ := st.Mode & unix.S_IFMT

	if t.whiteouts && typ == unix.S_IFCHR && st.Rdev == 0 {
		wh := WhiteoutPrefix + name
		if parent != "" {
			wh = parent + "/" + wh
		}
		return t.marker(wh, mtime)
	}

	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	var (
		fd     = -1
		opaque bool
	)
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	switch typ {
	case unix.S_IFDIR, unix.S_IFREG:
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if typ == unix.S_IFDIR {
			flags |= unix.O_DIRECTORY
		}
		var err error
		if fd, err = unix.Openat(dirfd, name, flags, 0); err != nil {
			return &os.PathError{Op: "open", Path: rel, Err: err}
		}
		if err := t.xattrs(hdr, func(dest []byte) (int, error) { return unix.Flistxattr(fd, dest) },
			func(attr string, dest []byte) (int, error) { return unix.Fgetxattr(fd, attr, dest) }); err != nil {
			return err
		}
		if typ == unix.S_IFDIR {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			if t.whiteouts {
				v, err := getXattr(func(dest []byte) (int, error) { return unix.Fgetxattr(fd, overlayOpaqueXattr, dest) })
				if err != nil {
					return &os.PathError{Op: "getxattr", Path: rel, Err: err}
				}
				opaque = string(v) == "y"
			}
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = st.Size
		}
	default:
		p := procPath(dirfd, name)
		if err := t.xattrs(hdr, func(dest []byte) (int, error) { return unix.Llistxattr(p, dest) },
			func(attr string, dest []byte) (int, error) { return unix.Lgetxattr(p, attr, dest) }); err != nil {
			return err
		}
		switch typ {
		case unix.S_IFLNK:
			hdr.Typeflag = tar.TypeSymlink
			target, err := readlinkAt(dirfd, name)
			if err != nil {
				return &os.PathError{Op: "readlink", Path: rel, Err: err}
			}
			hdr.Linkname = target
		case unix.S_IFCHR, unix.S_IFBLK:
			hdr.Typeflag = tar.TypeChar
			if typ == unix.S_IFBLK {
				hdr.Typeflag = tar.TypeBlock
			}
			hdr.Devmajor = int64(unix.Major(st.Rdev))
			hdr.Devminor = int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		case unix.S_IFSOCK:
			// Sockets cannot be archived; Docker skips them too.
			return nil
		default:
			return fmt.Errorf("%s: unknown file type %o", rel, typ)
		}
	}

	if typ != unix.S_IFDIR && st.Nlink > 1 {
		key := inode{dev: st.Dev, ino: st.Ino}
		if first, ok := t.links[key]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
			hdr.PAXRecords = nil
			return t.tw.WriteHeader(hdr)
		}
		t.links[key] = rel
	}

	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	switch typ {
	case unix.S_IFREG:
		f := os.NewFile(uintptr(fd), rel)
		fd = -1
		defer f.Close()
		if _, err := io.CopyBuffer(t.tw, io.LimitReader(f, hdr.Size), t.buf); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	case unix.S_IFDIR:
		if opaque {
			if err := t.marker(rel+"/"+WhiteoutOpaqueDir, mtime); err != nil {
				return err
			}
		}
		dfd := fd
		fd = -1
		return t.dir(dfd, rel)
	}
	return nil
}

// xattrs records the xattrs of an entry in hdr as PAX records.
func (t *tarWriter) xattrs(hdr *tar.Header, list func([]byte) (int, error), get func(string, []byte) (int, error)) error {
	names, err := getXattr(list)
	if err != nil {
		if err == unix.ENOTSUP {
			return nil
		}
		return &os.PathError{Op: "listxattr", Path: hdr.Name, Err: err}
	}
	for n := range bytes.SplitSeq(names, []byte{0}) {
		name := string(n)
		if name == "" || strings.HasPrefix(name, overlayXattrPrefix) {
			continue
		}
		v, err := getXattr(func(dest []byte) (int, error) { return get(name, dest) })
		if err != nil {
			return &os.PathError{Op: "getxattr " + name, Path: hdr.Name, Err: err}
		}
		if v == nil {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string)
		}
		hdr.PAXRecords[paxXattrPrefix+name] = string(v)
	}
	return nil
}

// getXattr calls an xattr getter with a growing buffer. A missing attribute
// gives nil and no error.
func getXattr(call func([]byte) (int, error)) ([]byte, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := call(buf)
		switch {
		case err == unix.ENODATA:
			return nil, nil
		case err == unix.ERANGE && size < 1<<20:
			size *= 4
			continue
		case err != nil:
			return nil, err
		}
		return buf[:n], nil
	}
}

func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
