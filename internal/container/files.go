package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/log"
)

// This file holds the verbs that read and write a container's files: the
// archive endpoints behind `docker cp`, changes (`docker diff`), export and
// commit. Every path a client names is resolved by the kernel inside the
// container's root (openat2 RESOLVE_IN_ROOT), so neither ".." nor a symlink
// in the container can lead out of it.
//
// Like dockerd, these verbs hold the container's lock while they run, so
// the container cannot start, stop or be removed under them. A running
// container is reached through /proc/PID/root, which also shows its
// volumes and bind mounts; a stopped one has its root file system mounted
// for the duration of the call.

// ExtractOptions tunes ExtractToDir (PUT /containers/{id}/archive).
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the other way round.
	NoOverwriteDirNonDir bool
	// CopyUIDGID gives every extracted entry the owner of the container's
	// user (`docker cp -a`) instead of the owner recorded in the tar.
	CopyUIDGID bool
}

// CommitOptions are the parameters of Commit (POST /commit).
type CommitOptions struct {
	// Ref is "repo[:tag]" to tag the new image with, "" for none.
	Ref string
	// Comment and Author go into the image config and its history.
	Comment, Author string
	// Changes are Dockerfile instructions applied to the config.
	Changes []string
	// Pause freezes a running container while its changes are read.
	Pause bool
	// Config overrides the container's configuration (nil keeps it).
	Config *container.Config
}

// errNoSuchPath is Docker's message for a path missing in a container.
func errNoSuchPath(p, id string) error {
	return errorf(errdefs.ErrNotFound, "Could not find the file %s in container %s", p, id)
}

// rootHandle is an open container root.
type rootHandle struct {
	fd      int
	cleanup func()
}

func (h *rootHandle) close() {
	unix.Close(h.fd)
	if h.cleanup != nil {
		h.cleanup()
	}
}

// procRoot names the descriptor fd as a path, for the calls that take one.
func procRoot(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openRoot opens the root of e's file system: /proc/PID/root of a running
// container (with its mounts), else its root file system mounted for the
// call. withMounts false always uses the root file system alone (export).
// The caller holds e.mu and closes the handle.
func (m *Manager) openRoot(ctx context.Context, e *entry, withMounts bool) (*rootHandle, error) {
	if e.running() && withMounts && e.rec.State.Pid > 0 {
		fd, err := unix.Open("/proc/"+strconv.Itoa(e.rec.State.Pid)+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			return &rootHandle{fd: fd}, nil
		}
		log.From(ctx).Debug("container root through /proc unavailable", "container", e.rec.ID, "err", err)
	}
	target := filepath.Join(m.bundleDir(e.rec.ID), "rootfs")
	var cleanup func()
	if !e.running() {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return nil, fmt.Errorf("rootfs dir: %w", err)
		}
		_ = m.rootfs.Unmount(ctx, target)
		if err := m.rootfs.Mount(ctx, e.rec.ID, target); err != nil {
			return nil, fmt.Errorf("mount rootfs: %w", err)
		}
		cleanup = func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := m.rootfs.Unmount(uctx, target); err != nil {
				log.From(ctx).Warn("unmount rootfs", "container", e.rec.ID, "err", err)
			}
		}
	}
	fd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, fmt.Errorf("open rootfs: %w", err)
	}
	return &rootHandle{fd: fd, cleanup: cleanup}, nil
}

// openInRoot opens p (absolute inside the container) below rootfd as an
// O_PATH descriptor, following a symlink in the last component only when
// follow is set.
func openInRoot(rootfd int, p string, follow bool) (int, error) {
	rel := strings.TrimLeft(path.Clean("/"+p), "/")
	if rel == "" {
		rel = "."
	}
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		fd, err := unix.Openat2(rootfd, rel, &how)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// followsTrailing reports whether a path given by a client asks for the
// directory a symlink points to: "dir/" and "dir/." do, as in Docker.
func followsTrailing(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")
}

// archiveBase is the name under which Docker puts the entry p in the tar
// it returns: the last element, "." for "dir/.", and "." for the root.
func archiveBase(p string) string {
	if strings.HasSuffix(p, "/.") {
		return "."
	}
	b := path.Base(path.Clean("/" + p))
	if b == "/" {
		return "."
	}
	return b
}

// resolveLink resolves p the way a process in the container would, and
// returns the absolute path it ends at; components that do not exist are
// kept lexically (Docker's LinkTarget for dangling links).
func resolveLink(rootfd int, p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	var done []string
	hops := 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := "/" + strings.Join(append(append([]string{}, done...), c), "/")
		fd, err := openInRoot(rootfd, cur, false)
		if err != nil {
			// Missing: the rest stays as written.
			done = append(done, c)
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			unix.Close(fd)
			done = append(done, c)
			continue
		}
		target, err := readlinkFd(fd)
		unix.Close(fd)
		if err != nil {
			return "", err
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolve %s: %w", p, unix.ELOOP)
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return "/" + strings.Join(done, "/"), nil
}

// readlinkFd reads the target of the symlink open as an O_PATH descriptor.
func readlinkFd(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// fileMode converts a stat mode to an os.FileMode, as Go's os.Lstat does.
func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// statPath opens and stats the client's path p below rootfd. The caller
// closes the returned descriptor.
func statPath(rootfd int, p, id string) (int, container.PathStat, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := openInRoot(rootfd, p, followsTrailing(p))
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, container.PathStat{}, st, errNoSuchPath(p, id)
		}
		if errors.Is(err, unix.ENOTDIR) {
			return -1, container.PathStat{}, st, errorf(errdefs.ErrInvalidArgument, "not a directory: %s", p)
		}
		return -1, container.PathStat{}, st, fmt.Errorf("resolve %s: %w", p, err)
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, container.PathStat{}, st, fmt.Errorf("stat %s: %w", p, err)
	}
	if followsTrailing(p) && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, container.PathStat{}, st, errorf(errdefs.ErrInvalidArgument, "not a directory: %s", p)
	}
	ps := container.PathStat{
		Name:  archiveBase(p),
		Size:  st.Size,
		Mode:  fileMode(st.Mode),
		Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC(),
	}
	if ps.Name == "." && !strings.HasSuffix(p, "/.") {
		ps.Name = "/"
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := resolveLink(rootfd, p)
		if err != nil {
			unix.Close(fd)
			return -1, container.PathStat{}, st, err
		}
		ps.LinkTarget = t
	}
	return fd, ps, st, nil
}

// StatPath returns the stat of path inside the container (HEAD
// /containers/{id}/archive). A missing path is ErrNotFound.
func (m *Manager) StatPath(ctx context.Context, ref, p string) (container.PathStat, error) {
	if p == "" {
		return container.PathStat{}, errorf(errdefs.ErrInvalidArgument, "path is required")
	}
	e, err := m.lookup(ref)
	if err != nil {
		return container.PathStat{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, err := m.openRoot(ctx, e, true)
	if err != nil {
		return container.PathStat{}, err
	}
	defer h.close()
	fd, ps, _, err := statPath(h.fd, p, e.rec.ID)
	if err != nil {
		return container.PathStat{}, err
	}
	unix.Close(fd)
	return ps, nil
}

// ArchivePath writes a tar of path inside the container (GET
// /containers/{id}/archive): a directory with everything below it, under
// the name archiveBase(path); a symlink as the link itself unless path ends
// in "/" or "/.". open is called once the path is found, with its stat, and
// returns the writer for the tar; errors before that call are the client's
// to report.
func (m *Manager) ArchivePath(ctx context.Context, ref, p string, open func(container.PathStat) (io.Writer, error)) error {
	if p == "" {
		return errorf(errdefs.ErrInvalidArgument, "path is required")
	}
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, err := m.openRoot(ctx, e, true)
	if err != nil {
		return err
	}
	defer h.close()
	fd, ps, st, err := statPath(h.fd, p, e.rec.ID)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	w, err := open(ps)
	if err != nil {
		return err
	}
	base := archiveBase(p)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return tarSingle(ctx, w, fd, base, st)
	}
	return tarTree(ctx, w, fd, base, st)
}

// tarSingle writes a tar of the one non-directory open as fd (O_PATH).
func tarSingle(ctx context.Context, w io.Writer, fd int, name string, st unix.Stat_t) error {
	// archive.Tar archives directories only; the one entry is written here.
	hdr := &tar.Header{
		Name: name, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX,
	}
	tw := tar.NewWriter(w)
	var body io.Reader
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		rfd, err := unix.Open(procRoot(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("archive: open %s: %w", name, err)
		}
		f := os.NewFile(uintptr(rfd), name)
		defer f.Close()
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, st.Size, io.LimitReader(f, st.Size)
	case unix.S_IFLNK:
		t, err := readlinkFd(fd)
		if err != nil {
			return fmt.Errorf("archive: readlink %s: %w", name, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, t
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return errorf(errdefs.ErrInvalidArgument, "cannot archive %s: unsupported file type", name)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if body != nil {
		if _, err := io.Copy(tw, &ctxReader{ctx: ctx, r: body}); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// tarTree writes a tar of the directory open as fd (O_PATH) with every name
// under prefix: archive.Tar's stream, renamed on the way.
func tarTree(ctx context.Context, w io.Writer, fd int, prefix string, st unix.Stat_t) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := archive.Tar(ctx, pw, procRoot(fd))
		pw.CloseWithError(err)
		done <- err
	}()
	err := rebase(w, pr, prefix, &tar.Header{
		Typeflag: tar.TypeDir, Name: prefix + "/", Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0), Format: tar.FormatPAX,
	})
	pr.CloseWithError(err)
	if terr := <-done; err == nil && terr != nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

// rebase copies the tar r to w with every name (and hard-link target) put
// under prefix, after first, the header of prefix itself.
func rebase(w io.Writer, r io.Reader, prefix string, first *tar.Header) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(first); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		hdr.Name = prefix + "/" + hdr.Name
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = prefix + "/" + hdr.Linkname
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ExtractToDir extracts the tar r into the directory path inside the
// container (PUT /containers/{id}/archive). The path must exist and be a
// directory; nothing is ever written outside it, whatever symlinks the
// container or the tar hold.
func (m *Manager) ExtractToDir(ctx context.Context, ref, p string, r io.Reader, o ExtractOptions) error {
	if p == "" {
		return errorf(errdefs.ErrInvalidArgument, "path is required")
	}
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.HostConfig != nil && e.rec.HostConfig.ReadonlyRootfs {
		return errorf(errdefs.ErrPermissionDenied, "container rootfs is marked read-only")
	}
	h, err := m.openRoot(ctx, e, true)
	if err != nil {
		return err
	}
	defer h.close()
	fd, err := openInRoot(h.fd, p, true)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return errNoSuchPath(p, e.rec.ID)
		}
		return fmt.Errorf("resolve %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errorf(errdefs.ErrInvalidArgument, "extraction point is not a directory")
	}
	uid, gid := -1, -1
	if o.CopyUIDGID {
		if uid, gid, err = containerUser(h.fd, e.rec.Config.User); err != nil {
			return err
		}
	}
	var src io.Reader = r
	if o.NoOverwriteDirNonDir || uid >= 0 {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(filterTar(pw, r, fd, o.NoOverwriteDirNonDir, uid, gid)) }()
		defer pr.Close()
		src = pr
	}
	if _, err := archive.Apply(ctx, procRoot(fd), src, archive.ApplyOptions{}); err != nil {
		if errors.Is(err, unix.ENOSPC) {
			return fmt.Errorf("copy to container: %w", errdefs.ErrResourceExhausted.WithMessage(err.Error()))
		}
		return fmt.Errorf("copy to container: %w", err)
	}
	return nil
}

// filterTar copies the tar r to w, refusing (with Docker's messages) an
// entry that would put a non-directory over a directory below dirfd or the
// other way round, and setting the owner of every entry when uid >= 0.
func filterTar(w io.Writer, r io.Reader, dirfd int, noOverwrite bool, uid, gid int) error {
	tw := tar.NewWriter(w)
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return errorf(errdefs.ErrInvalidArgument, "read tar: %v", err)
		}
		if noOverwrite {
			if fd, err := openInRoot(dirfd, hdr.Name, false); err == nil {
				var st unix.Stat_t
				serr := unix.Fstat(fd, &st)
				unix.Close(fd)
				isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
				if serr == nil && isDir && hdr.Typeflag != tar.TypeDir {
					return errorf(errdefs.ErrInvalidArgument, "cannot overwrite directory %q with non-directory %q", "/"+strings.Trim(path.Clean("/"+hdr.Name), "/"), hdr.Name)
				}
				if serr == nil && !isDir && hdr.Typeflag == tar.TypeDir {
					return errorf(errdefs.ErrInvalidArgument, "cannot overwrite non-directory %q with directory %q", "/"+strings.Trim(path.Clean("/"+hdr.Name), "/"), hdr.Name)
				}
			}
		}
		if uid >= 0 {
			hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = uid, gid, "", ""
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// containerUser resolves the container's user ("name", "uid", "name:group",
// "uid:gid", "" for root) to numbers from the container's /etc/passwd and
// /etc/group, read inside its root.
func containerUser(rootfd int, user string) (int, int, error) {
	u, g, _ := strings.Cut(user, ":")
	if u == "" {
		u = "0"
	}
	uid, gid := -1, -1
	if n, err := strconv.Atoi(u); err == nil {
		uid = n
	}
	passwd := readInRoot(rootfd, "/etc/passwd")
	for _, line := range strings.Split(passwd, "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 {
			continue
		}
		if f[0] == u || (uid >= 0 && f[2] == strconv.Itoa(uid)) {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			break
		}
	}
	if uid < 0 {
		return -1, -1, errorf(errdefs.ErrInvalidArgument, "unable to find user %s: no matching entries in passwd file", u)
	}
	if g != "" {
		if n, err := strconv.Atoi(g); err == nil {
			gid = n
		} else {
			gid = -1
			for _, line := range strings.Split(readInRoot(rootfd, "/etc/group"), "\n") {
				f := strings.Split(line, ":")
				if len(f) >= 3 && f[0] == g {
					gid, _ = strconv.Atoi(f[2])
				}
			}
			if gid < 0 {
				return -1, -1, errorf(errdefs.ErrInvalidArgument, "unable to find group %s: no matching entries in group file", g)
			}
		}
	}
	if gid < 0 {
		gid = uid
	}
	return uid, gid, nil
}

// readInRoot reads a small file inside the root ("" when unreadable).
func readInRoot(rootfd int, p string) string {
	fd, err := openInRoot(rootfd, p, true)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	rfd, err := unix.Open(procRoot(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(rfd), p)
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 4<<20))
	return string(b)
}

// Export writes a tar of the container's whole root file system to w (GET
// /containers/{id}/export); volumes are not included, as in Docker.
func (m *Manager) Export(ctx context.Context, ref string, w io.Writer) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, err := m.openRoot(ctx, e, false)
	if err != nil {
		return err
	}
	defer h.close()
	if err := archive.Tar(ctx, w, procRoot(h.fd)); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	m.publish(e, events.ActionExport, nil)
	return nil
}

// Changes lists what the container changed in its image's file system (GET
// /containers/{id}/changes), sorted by path: added, modified and deleted
// entries as in `docker diff`.
func (m *Manager) Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	upper := m.rootfs.UpperDir(e.rec.ID)
	lowerfd := -1
	if e.rec.ChainID != "" {
		fd, done, err := m.imageView(ctx, e)
		if err != nil {
			return nil, err
		}
		defer done()
		lowerfd = fd
	}
	ufd, err := unix.Open(upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out := []container.FilesystemChange{}
	if err := walkChanges(ctx, ufd, "", lowerfd, &out); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return out, nil
}

// imageView mounts the container's image alone (an empty read-write layer
// on its chain) and returns the directory open as a descriptor, and a
// function that closes, unmounts and removes it.
func (m *Manager) imageView(ctx context.Context, e *entry) (int, func(), error) {
	key := e.rec.ID + "-diff-" + newID()[:8]
	if err := m.rootfs.Prepare(ctx, key, e.rec.ChainID); err != nil {
		return -1, nil, fmt.Errorf("changes: image view: %w", err)
	}
	target := filepath.Join(m.bundleDir(e.rec.ID), key)
	cctx := context.WithoutCancel(ctx)
	remove := func() {
		if err := m.rootfs.Remove(cctx, key); err != nil {
			log.From(ctx).Warn("remove image view", "container", e.rec.ID, "err", err)
		}
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		remove()
		return -1, nil, fmt.Errorf("changes: %w", err)
	}
	if err := m.rootfs.Mount(ctx, key, target); err != nil {
		remove()
		_ = os.Remove(target)
		return -1, nil, fmt.Errorf("changes: image view: %w", err)
	}
	fd, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	done := func() {
		if fd >= 0 {
			unix.Close(fd)
		}
		if err := m.rootfs.Unmount(cctx, target); err != nil {
			log.From(ctx).Warn("unmount image view", "container", e.rec.ID, "err", err)
		}
		_ = os.Remove(target)
		remove()
	}
	if err != nil {
		done()
		return -1, nil, fmt.Errorf("changes: %w", err)
	}
	return fd, done, nil
}

// walkChanges records the changes below the upper directory open as dirfd
// (its path rel), closing dirfd. lowerfd is the image's root (-1 for none).
// An overlay whiteout (a 0/0 character device) is a deletion; an entry the
// image has is a modification, any other an addition.
func walkChanges(ctx context.Context, dirfd int, rel string, lowerfd int, out *[]container.FilesystemChange) error {
	f := os.NewFile(uintptr(dirfd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := rel + "/" + n
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFCHR && st.Rdev == 0 {
			*out = append(*out, container.FilesystemChange{Path: p, Kind: container.ChangeDelete})
			continue
		}
		kind := container.ChangeAdd
		if lowerfd >= 0 {
			if lfd, err := openInRoot(lowerfd, p, false); err == nil {
				unix.Close(lfd)
				kind = container.ChangeModify
			}
		}
		*out = append(*out, container.FilesystemChange{Path: p, Kind: kind})
		if typ == unix.S_IFDIR {
			cfd, err := unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := walkChanges(ctx, cfd, p, lowerfd, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// Commit makes an image of the container's changes on its image through c
// (POST /commit) and returns the new image's ID. With o.Pause a running
// container is frozen while its changes are read.
func (m *Manager) Commit(ctx context.Context, c Committer, ref string, o CommitOptions) (string, error) {
	e, err := m.lookup(ref)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rec.State.Status == container.StateRemoving || e.rec.State.Status == container.StateDead {
		return "", errorf(errdefs.ErrConflict, "You cannot commit container %s which is being removed", e.rec.ID)
	}
	if o.Pause && e.rec.State.Status == container.StateRunning {
		rt, err := m.runtime(e.rec.Runtime)
		if err != nil {
			return "", err
		}
		if err := rt.Pause(ctx, e.rec.ID); err != nil {
			return "", fmt.Errorf("pause for commit: %w", err)
		}
		defer func() {
			if err := rt.Resume(context.WithoutCancel(ctx), e.rec.ID); err != nil {
				log.From(ctx).Warn("resume after commit", "container", e.rec.ID, "err", err)
			}
		}()
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Diff(ctx, pw, m.rootfs.UpperDir(e.rec.ID))) }()
	defer pr.Close()
	id, err := c.Commit(ctx, CommitRequest{
		ContainerID: e.rec.ID, ImageID: e.rec.Image, Ref: o.Ref, Comment: o.Comment, Author: o.Author,
		Changes: o.Changes, Config: MergeCommitConfig(o.Config, e.rec.Config),
	}, pr)
	if err != nil {
		return "", err
	}
	m.publish(e, events.ActionCommit, map[string]string{"comment": o.Comment, "imageID": id, "imageRef": o.Ref})
	return id, nil
}

// MergeCommitConfig is the configuration a commit records: user's fields
// where set, the container's otherwise, as dockerd's merge does (Env and
// Labels and ExposedPorts and Volumes are merged key by key, user's
// winning). Neither argument is modified.
func MergeCommitConfig(user, ctrCfg *container.Config) *container.Config {
	out := &container.Config{}
	if ctrCfg != nil {
		c := *ctrCfg
		out = &c
	}
	if user == nil {
		return out
	}
	if user.User != "" {
		out.User = user.User
	}
	if len(user.Cmd) > 0 {
		out.Cmd = user.Cmd
	}
	if len(user.Entrypoint) > 0 {
		out.Entrypoint = user.Entrypoint
		if len(user.Cmd) == 0 {
			out.Cmd = nil
		}
	}
	if user.WorkingDir != "" {
		out.WorkingDir = user.WorkingDir
	}
	if user.StopSignal != "" {
		out.StopSignal = user.StopSignal
	}
	if user.Healthcheck != nil {
		out.Healthcheck = user.Healthcheck
	}
	if len(user.OnBuild) > 0 {
		out.OnBuild = user.OnBuild
	}
	if len(user.Shell) > 0 {
		out.Shell = user.Shell
	}
	if len(user.Env) > 0 {
		env := append([]string{}, out.Env...)
		for _, kv := range user.Env {
			k, _, _ := strings.Cut(kv, "=")
			replaced := false
			for i, old := range env {
				if ok, _, _ := strings.Cut(old, "="); ok == k {
					env[i], replaced = kv, true
				}
			}
			if !replaced {
				env = append(env, kv)
			}
		}
		out.Env = env
	}
	if len(user.Labels) > 0 {
		l := map[string]string{}
		for k, v := range out.Labels {
			l[k] = v
		}
		for k, v := range user.Labels {
			l[k] = v
		}
		out.Labels = l
	}
	if len(user.ExposedPorts) > 0 {
		ports := maps.Clone(out.ExposedPorts)
		if ports == nil {
			ports = network.PortSet{}
		}
		for k, v := range user.ExposedPorts {
			ports[k] = v
		}
		out.ExposedPorts = ports
	}
	if len(user.Volumes) > 0 {
		v := map[string]struct{}{}
		for k := range out.Volumes {
			v[k] = struct{}{}
		}
		for k := range user.Volumes {
			v[k] = struct{}{}
		}
		out.Volumes = v
	}
	return out
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
