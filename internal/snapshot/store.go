package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// store holds what Overlay and Copy share: the layer and container
// directories, their parent links, and atomic creation through tmp/.
type store struct {
	root string
	// data is the name of a layer's content directory: "diff" or "tree".
	data string
	// mu serialises the checks of RemoveLayer with Prepare and ApplyLayer,
	// so that a layer is not removed while something is put on it.
	mu sync.RWMutex
}

func newStore(root, data string) (*store, error) {
	s := &store{root: root, data: data}
	for _, d := range []string{s.layersDir(), s.rwDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("snapshotter %s: %w", root, err)
		}
	}
	// Whatever is in tmp/ was being made or removed when the last process
	// stopped.
	entries, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return nil, fmt.Errorf("snapshotter %s: %w", root, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.tmpDir(), e.Name())); err != nil {
			return nil, fmt.Errorf("snapshotter %s: clean tmp: %w", root, err)
		}
	}
	return s, nil
}

func (s *store) layersDir() string { return filepath.Join(s.root, "layers") }
func (s *store) rwDir() string     { return filepath.Join(s.root, "rw") }
func (s *store) tmpDir() string    { return filepath.Join(s.root, "tmp") }

func (s *store) layerDir(id digest.Digest) string {
	return filepath.Join(s.layersDir(), id.Encoded())
}

func (s *store) layerData(id digest.Digest) string {
	return filepath.Join(s.layerDir(id), s.data)
}

func (s *store) keyDir(key string) string { return filepath.Join(s.rwDir(), key) }

func checkID(id digest.Digest) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("chain ID %q: %v: %w", id, err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func checkKey(key string) error {
	if !validKey(key) {
		return fmt.Errorf("snapshot key %q: %w", key, errdefs.ErrInvalidArgument)
	}
	return nil
}

// HasLayer reports whether the layer chainID is present.
func (s *store) HasLayer(id digest.Digest) bool {
	if checkID(id) != nil {
		return false
	}
	_, err := os.Stat(s.layerData(id))
	return err == nil
}

func (s *store) requireLayer(id digest.Digest) error {
	if err := checkID(id); err != nil {
		return err
	}
	if !s.HasLayer(id) {
		return fmt.Errorf("layer %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// readParent reads the parent file in dir: "" when there is none.
func readParent(dir string) (digest.Digest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "parent"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	d := digest.Digest(strings.TrimSpace(string(b)))
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("%s/parent: %w", dir, err)
	}
	return d, nil
}

func writeParent(dir string, parent digest.Digest) error {
	if parent == "" {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "parent"), []byte(parent.String()+"\n"), 0o600)
}

// chain returns id and its ancestors, top first.
func (s *store) chain(id digest.Digest) ([]digest.Digest, error) {
	var out []digest.Digest
	for id != "" {
		if err := s.requireLayer(id); err != nil {
			return nil, err
		}
		out = append(out, id)
		if len(out) > 100000 {
			return nil, fmt.Errorf("layer %s: parent loop", id)
		}
		p, err := readParent(s.layerDir(id))
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", id, err)
		}
		id = p
	}
	return out, nil
}

// applyLayer makes the layer id on parent: fill fills a fresh data dir in
// tmp/, which is then renamed into place.
func (s *store) applyLayer(ctx context.Context, parent, id digest.Digest, fill func(data string) (int64, error)) (int64, error) {
	if err := checkID(id); err != nil {
		return 0, err
	}
	if s.HasLayer(id) {
		return 0, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if parent != "" {
		if err := s.requireLayer(parent); err != nil {
			return 0, fmt.Errorf("apply layer %s: parent: %w", id, err)
		}
	}
	tmp, err := os.MkdirTemp(s.tmpDir(), "layer-")
	if err != nil {
		return 0, fmt.Errorf("apply layer %s: %w", id, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	data := filepath.Join(tmp, s.data)
	n, err := fill(data)
	if err != nil {
		return n, fmt.Errorf("apply layer %s: %w", id, err)
	}
	if err := writeParent(tmp, parent); err != nil {
		return n, fmt.Errorf("apply layer %s: %w", id, err)
	}
	if err := syncTree(tmp); err != nil {
		return n, fmt.Errorf("apply layer %s: %w", id, err)
	}
	if err := os.Rename(tmp, s.layerDir(id)); err != nil {
		if s.HasLayer(id) {
			// Someone else applied the same layer meanwhile.
			return n, nil
		}
		return n, fmt.Errorf("apply layer %s: %w", id, err)
	}
	log.From(ctx).Debug("layer applied", "digest", id, "size", n)
	return n, nil
}

// syncTree flushes a freshly written tree to disk, so that the rename that
// publishes it cannot reach the disk before its contents. One syncfs is far
// cheaper than an fsync per file of a large layer.
func syncTree(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

// Layers lists the present layers.
func (s *store) Layers() ([]digest.Digest, error) {
	entries, err := os.ReadDir(s.layersDir())
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	var out []digest.Digest
	for _, e := range entries {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() == nil && s.HasLayer(d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// users lists the layers and containers whose parent is id.
func (s *store) users(id digest.Digest) ([]string, error) {
	var out []string
	for _, dir := range []string{s.layersDir(), s.rwDir()} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			p, err := readParent(filepath.Join(dir, e.Name()))
			if err == nil && p == id {
				out = append(out, filepath.Base(dir)+"/"+e.Name())
			}
		}
	}
	return out, nil
}

// RemoveLayer removes a layer nothing is on.
func (s *store) RemoveLayer(ctx context.Context, id digest.Digest) error {
	if err := s.requireLayer(id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	users, err := s.users(id)
	if err != nil {
		return fmt.Errorf("remove layer %s: %w", id, err)
	}
	if len(users) > 0 {
		return fmt.Errorf("remove layer %s: in use by %s: %w", id, strings.Join(users, ", "), errdefs.ErrConflict)
	}
	return s.removeDir(ctx, s.layerDir(id))
}

// removeDir takes dir out of sight with one rename, then deletes it.
func (s *store) removeDir(ctx context.Context, dir string) error {
	tmp, err := os.MkdirTemp(s.tmpDir(), "remove-")
	if err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	gone := filepath.Join(tmp, "x")
	if err := os.Rename(dir, gone); err != nil {
		os.Remove(tmp)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %w", dir, errdefs.ErrNotFound)
		}
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		// It is out of sight; the next New clears tmp/.
		log.From(ctx).Warn("cleaning up removed snapshot", "path", tmp, "err", err)
	}
	return nil
}

// prepare makes the container dir of key on parent: fill fills a fresh dir
// in tmp/ which is then renamed into place.
func (s *store) prepare(ctx context.Context, key string, parent digest.Digest, fill func(dir string) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if parent != "" {
		if err := s.requireLayer(parent); err != nil {
			return fmt.Errorf("prepare %s: parent: %w", key, err)
		}
	}
	if _, err := os.Lstat(s.keyDir(key)); err == nil {
		return fmt.Errorf("snapshot %s: %w", key, errdefs.ErrAlreadyExists)
	}
	tmp, err := os.MkdirTemp(s.tmpDir(), "rw-")
	if err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	if err := writeParent(tmp, parent); err != nil {
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	if err := os.Rename(tmp, s.keyDir(key)); err != nil {
		if _, serr := os.Lstat(s.keyDir(key)); serr == nil {
			return fmt.Errorf("snapshot %s: %w", key, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("prepare %s: %w", key, err)
	}
	log.From(ctx).Debug("snapshot prepared", "key", key, "parent", parent)
	return nil
}

// requireKey returns the parent of key, or ErrNotFound.
func (s *store) requireKey(key string) (digest.Digest, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	dir := s.keyDir(key)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("snapshot %s: %w", key, errdefs.ErrNotFound)
		}
		return "", fmt.Errorf("snapshot %s: %w", key, err)
	}
	p, err := readParent(dir)
	if err != nil {
		return "", fmt.Errorf("snapshot %s: %w", key, err)
	}
	return p, nil
}

// Remove deletes the container dir of key.
func (s *store) Remove(ctx context.Context, key string) error {
	if _, err := s.requireKey(key); err != nil {
		return err
	}
	if err := s.removeDir(ctx, s.keyDir(key)); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", key, err)
	}
	return nil
}

// usage adds up the sizes of the files under dir, counting hard links once.
func usage(ctx context.Context, dir string) (int64, error) {
	type ino struct{ dev, ino uint64 }
	seen := map[ino]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := ino{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("usage of %s: %w", dir, err)
	}
	return total, nil
}

// unmount unmounts target, detaching it lazily if it is busy. A target that
// is not mounted, or missing, is not an error.
func unmount(ctx context.Context, target string) error {
	err := unix.Unmount(target, 0)
	if err == unix.EBUSY {
		log.From(ctx).Warn("mount busy, detaching", "path", target)
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err == unix.EINVAL || err == unix.ENOENT {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}
