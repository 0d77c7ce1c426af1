package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/archive"
	"berth/internal/log"
)

// Overlay is the overlayfs Snapshotter: each layer is unpacked once into
// its own directory, with whiteouts in overlayfs's form, and a container's
// root file system is an overlay mount of its chain under its own upper dir.
//
// Mounts use the new mount API (fsopen/fsconfig/fsmount), adding one
// "lowerdir+" per layer, so that any number of layers fits; on kernels
// without "lowerdir+" (before 6.8) they fall back to mount(2) with short
// relative names in the option string, which fits about 200 layers into
// its page.
type Overlay struct {
	*store
	classic bool
}

var _ Snapshotter = (*Overlay)(nil)

// OverlayOption tunes NewOverlay.
type OverlayOption func(*Overlay)

// WithClassicMount makes the Overlay always mount with mount(2) and a
// short option string instead of the new mount API, as it does by itself
// on kernels without "lowerdir+". It exists for tests of that path.
func WithClassicMount() OverlayOption {
	return func(o *Overlay) { o.classic = true }
}

// NewOverlay opens (creating if needed) an overlay snapshotter at root.
// Use CheckOverlay first to learn whether overlayfs works there.
func NewOverlay(root string, opts ...OverlayOption) (*Overlay, error) {
	s, err := newStore(root, "diff")
	if err != nil {
		return nil, err
	}
	o := &Overlay{store: s}
	for _, opt := range opts {
		opt(o)
	}
	for _, d := range []string{o.emptyDir(), o.linkDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("snapshotter %s: %w", root, err)
		}
	}
	return o, nil
}

// CheckOverlay reports whether an overlay with its upper dir under root can
// be mounted: overlayfs must be in the kernel and root's file system must
// be usable as an upper dir (it must not itself be an overlay, for one).
func CheckOverlay(ctx context.Context, root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, ".check-overlay-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var p [4]string
	for i, n := range []string{"lower", "upper", "work", "merged"} {
		p[i] = filepath.Join(dir, n)
		if err := os.Mkdir(p[i], 0o700); err != nil {
			return err
		}
	}
	if err := mountOverlay([]string{p[0]}, p[1], p[2], p[3]); err != nil {
		return fmt.Errorf("overlayfs unusable at %s: %w", root, err)
	}
	return unmount(ctx, p[3])
}

func (o *Overlay) emptyDir() string { return filepath.Join(o.root, "empty") }
func (o *Overlay) linkDir() string  { return filepath.Join(o.root, "l") }

// ApplyLayer unpacks r as the layer chainID on parent; see Snapshotter.
func (o *Overlay) ApplyLayer(ctx context.Context, parent, chainID digest.Digest, r io.Reader) (int64, error) {
	return o.applyLayer(ctx, parent, chainID, func(data string) (int64, error) {
		return archive.Apply(ctx, data, r, archive.ApplyOptions{OverlayWhiteouts: true})
	})
}

// Prepare makes the container layer key on parent; see Snapshotter.
func (o *Overlay) Prepare(ctx context.Context, key string, parent digest.Digest) error {
	return o.prepare(ctx, key, parent, func(dir string) error {
		for _, d := range []string{"upper", "work"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpperDir returns the overlay upper dir of key.
func (o *Overlay) UpperDir(key string) string {
	return filepath.Join(o.keyDir(key), "upper")
}

// Usage returns the bytes in the upper dir of key.
func (o *Overlay) Usage(ctx context.Context, key string) (int64, error) {
	if _, err := o.requireKey(key); err != nil {
		return 0, err
	}
	return usage(ctx, o.UpperDir(key))
}

// Mount mounts the overlay of key at target.
func (o *Overlay) Mount(ctx context.Context, key, target string) error {
	parent, err := o.requireKey(key)
	if err != nil {
		return err
	}
	ids, err := o.chain(parent)
	if err != nil {
		return fmt.Errorf("mount %s: %w", key, err)
	}
	upper := o.UpperDir(key)
	work := filepath.Join(o.keyDir(key), "work")
	lowers := make([]string, 0, len(ids)+1)
	for _, id := range ids {
		lowers = append(lowers, o.layerData(id))
	}
	if len(lowers) == 0 {
		// overlayfs needs a lower dir.
		lowers = append(lowers, o.emptyDir())
	}
	if !o.classic {
		err = mountOverlay(lowers, upper, work, target)
		if !errors.Is(err, errNoLowerdirPlus) {
			if err != nil {
				return fmt.Errorf("mount %s: %w", key, err)
			}
			return nil
		}
		log.From(ctx).Debug("overlay: no lowerdir+ in this kernel, using mount(2)", "err", err)
	}
	if err := o.mountClassic(ids, key, target); err != nil {
		return fmt.Errorf("mount %s: %w", key, err)
	}
	return nil
}

// Unmount unmounts target.
func (o *Overlay) Unmount(ctx context.Context, target string) error {
	return unmount(ctx, target)
}

// errNoLowerdirPlus means the kernel's overlayfs lacks the new mount API's
// "lowerdir+" parameter.
var errNoLowerdirPlus = errors.New("overlayfs lowerdir+ unsupported")

// mountOverlay mounts an overlay with the new mount API. lowers are top
// first: the kernel stacks each "lowerdir+" below the ones before it.
func mountOverlay(lowers []string, upper, work, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if err == unix.ENOSYS {
			return fmt.Errorf("fsopen: %w: %w", err, errNoLowerdirPlus)
		}
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)
	for i, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			if i == 0 && err == unix.EINVAL {
				return fmt.Errorf("%s: %w", fsError(fd, err), errNoLowerdirPlus)
			}
			return fmt.Errorf("overlay lowerdir+ %s: %w", l, fsError(fd, err))
		}
	}
	params := [][2]string{{"upperdir", upper}, {"workdir", work}, {"index", "off"}}
	for _, p := range params {
		if err := unix.FsconfigSetString(fd, p[0], p[1]); err != nil {
			return fmt.Errorf("overlay %s=%s: %w", p[0], p[1], fsError(fd, err))
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("overlay create: %w", fsError(fd, err))
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount overlay: %w", fsError(fd, err))
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount overlay to %s: %w", target, err)
	}
	return nil
}

// fsError adds the messages the kernel left in a filesystem context to err.
func fsError(fd int, err error) error {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.Join(msgs, "; "))
}

// shortID names the symlink in l/ that stands for a layer in the classic
// mount's option string. 64 bits of the chain ID make a collision between
// layers on one host vanishingly unlikely; link checks for one anyway.
func shortID(id digest.Digest) string { return id.Encoded()[:16] }

// link makes sure l/<short id> points at the data dir of id.
func (o *Overlay) link(id digest.Digest) (string, error) {
	name := filepath.Join("l", shortID(id))
	target := filepath.Join("..", "layers", id.Encoded(), o.data)
	p := filepath.Join(o.root, name)
	if cur, err := os.Readlink(p); err == nil {
		if cur == target {
			return name, nil
		}
		return "", fmt.Errorf("short layer name %s is taken by %s: %w", name, cur, errdefs.ErrConflict)
	}
	if err := os.Symlink(target, p); err != nil && !os.IsExist(err) {
		return "", err
	}
	return name, nil
}

// mountClassic mounts with mount(2). The option string must fit in a page,
// so it names directories relative to the snapshotter root, through short
// symlinks, from a thread whose working directory is the root.
func (o *Overlay) mountClassic(ids []digest.Digest, key, target string) error {
	lowers := make([]string, 0, len(ids))
	for _, id := range ids {
		l, err := o.link(id)
		if err != nil {
			return err
		}
		lowers = append(lowers, l)
	}
	if len(lowers) == 0 {
		lowers = append(lowers, "empty")
	}
	opts := "lowerdir=" + strings.Join(lowers, ":") +
		",upperdir=" + filepath.Join("rw", key, "upper") +
		",workdir=" + filepath.Join("rw", key, "work") + ",index=off"
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("overlay options of %d layers do not fit in a page: %w", len(ids), errdefs.ErrNotImplemented)
	}
	target, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		// The thread gets its own working directory and is never unlocked,
		// so it exits with this goroutine and the change dies with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		if err := unix.Chdir(root); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", root, err)
			return
		}
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			errc <- fmt.Errorf("mount overlay at %s: %w", target, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// RemoveLayer removes the layer chainID and its short link.
func (o *Overlay) RemoveLayer(ctx context.Context, chainID digest.Digest) error {
	if err := o.store.RemoveLayer(ctx, chainID); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(o.linkDir(), shortID(chainID))); err != nil && !os.IsNotExist(err) {
		log.From(ctx).Warn("removing layer link", "digest", chainID, "err", err)
	}
	return nil
}
