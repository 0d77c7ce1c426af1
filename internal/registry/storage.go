package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// Directory and file names under the storage root (see doc.go).
const (
	dirBlobs     = "blobs"
	dirRepos     = "repositories"
	dirUploads   = "uploads"
	dirLayers    = "_layers"
	dirManifests = "_manifests"
	dirRevisions = "revisions"
	dirTags      = "tags"
	dirReferrers = "_referrers"
	lockFile     = "gc.lock"
	uploadData   = "data"
	uploadMeta   = "meta.json"
)

var (
	nameRe = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRe  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	idRe   = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// maxNameLen bounds repository names, as the reference implementation does.
const maxNameLen = 255

func validName(name string) bool { return len(name) <= maxNameLen && nameRe.MatchString(name) }

func validTag(tag string) bool { return tagRe.MatchString(tag) }

// parseDigest validates d and requires an algorithm the registry supports.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", errDigestInvalid(fmt.Sprintf("invalid digest %q: %v", s, err))
	}
	switch d.Algorithm() {
	case digest.SHA256, digest.SHA512:
	default:
		return "", errDigestInvalid(fmt.Sprintf("unsupported digest algorithm %q", d.Algorithm()))
	}
	return d, nil
}

// storage is the registry's file system layout. All writes are atomic: a
// temporary file in the target directory is written, synced and renamed.
type storage struct {
	root string
	now  func() time.Time

	mu      sync.Mutex
	uploads map[string]*upload // in-memory hash state of open uploads
}

// upload is the in-memory state of one upload session. The data file is
// the truth; h hashes its first off bytes with sha256 and is dropped (nil)
// whenever it may disagree with the file, to be recomputed at commit.
type upload struct {
	mu  sync.Mutex
	h   hash.Hash
	off int64
}

type uploadInfo struct {
	Repo    string    `json:"repo"`
	Started time.Time `json:"started"`
}

func newStorage(root string, now func() time.Time) (*storage, error) {
	for _, d := range []string{dirBlobs, dirRepos, dirUploads} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("registry storage: %w", err)
		}
	}
	return &storage{root: root, now: now, uploads: map[string]*upload{}}, nil
}

func (s *storage) blobPath(d digest.Digest) string {
	return filepath.Join(s.root, dirBlobs, d.Algorithm().String(), d.Encoded())
}

func (s *storage) repoDir(name string) string {
	return filepath.Join(s.root, dirRepos, filepath.FromSlash(name))
}

func (s *storage) layerLink(name string, d digest.Digest) string {
	return filepath.Join(s.repoDir(name), dirLayers, d.Algorithm().String(), d.Encoded())
}

func (s *storage) revisionLink(name string, d digest.Digest) string {
	return filepath.Join(s.repoDir(name), dirManifests, dirRevisions, d.Algorithm().String(), d.Encoded())
}

func (s *storage) tagsDir(name string) string {
	return filepath.Join(s.repoDir(name), dirManifests, dirTags)
}

func (s *storage) referrersDir(name string, subject digest.Digest) string {
	return filepath.Join(s.repoDir(name), dirReferrers, subject.Algorithm().String(), subject.Encoded())
}

func (s *storage) uploadDir(id string) string { return filepath.Join(s.root, dirUploads, id) }

// writeFileAtomic makes path hold data, or leaves it untouched on error.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// lock takes the storage-wide file lock, shared for the server's writes and
// exclusive for garbage collection, and returns its release function. The
// lock is an flock(2) on a fresh descriptor, so it works both between
// processes and between goroutines.
func (s *storage) lock(ctx context.Context, exclusive bool) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.root, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("registry lock: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("registry lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// statBlob returns the size of blob d if repository name links it.
func (s *storage) statBlob(name string, d digest.Digest) (int64, error) {
	if !exists(s.layerLink(name, d)) {
		return 0, errBlobUnknown(d.String())
	}
	fi, err := os.Stat(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, errBlobUnknown(d.String())
	}
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", d, err)
	}
	return fi.Size(), nil
}

// openBlob opens blob d of repository name for reading.
func (s *storage) openBlob(name string, d digest.Digest) (*os.File, error) {
	if !exists(s.layerLink(name, d)) {
		return nil, errBlobUnknown(d.String())
	}
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errBlobUnknown(d.String())
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// deleteBlob unlinks blob d from repository name; the data stays until
// garbage collection.
func (s *storage) deleteBlob(name string, d digest.Digest) error {
	err := os.Remove(s.layerLink(name, d))
	if errors.Is(err, fs.ErrNotExist) {
		return errBlobUnknown(d.String())
	}
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// mount links blob d, known under repository from (or, when from is "",
// present in the store at all), into repository name. It reports whether the
// blob could be mounted.
func (s *storage) mount(ctx context.Context, name, from string, d digest.Digest) (bool, error) {
	if from != "" && !exists(s.layerLink(from, d)) {
		return false, nil
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return false, err
	}
	defer unlock()
	if !exists(s.blobPath(d)) {
		return false, nil
	}
	if err := s.link(name, d); err != nil {
		return false, err
	}
	return true, nil
}

// link records that repository name holds blob d. The caller holds the
// shared lock. The link's modification time is refreshed, which is what
// garbage collection's grace period looks at.
func (s *storage) link(name string, d digest.Digest) error {
	p := s.layerLink(name, d)
	now := s.now()
	if err := os.Chtimes(s.blobPath(d), now, now); err != nil {
		return fmt.Errorf("link blob %s: %w", d, err)
	}
	if exists(p) {
		return os.Chtimes(p, now, now)
	}
	if err := writeFileAtomic(p, nil, 0o644); err != nil {
		return fmt.Errorf("link blob %s: %w", d, err)
	}
	return nil
}

// newUpload starts an upload session for repository name.
func (s *storage) newUpload(name string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new upload: %w", err)
	}
	id := hex.EncodeToString(b[:])
	dir := s.uploadDir(id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("new upload: %w", err)
	}
	meta, _ := json.Marshal(uploadInfo{Repo: name, Started: s.now().UTC()})
	if err := writeFileAtomic(filepath.Join(dir, uploadMeta), meta, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("new upload: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, uploadData), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("new upload: %w", err)
	}
	f.Close()
	s.mu.Lock()
	s.uploads[id] = &upload{h: sha256.New()}
	s.mu.Unlock()
	return id, nil
}

// getUpload returns the session id of repository name, locked; the caller
// calls the returned unlock.
func (s *storage) getUpload(name, id string) (*upload, func(), error) {
	if !idRe.MatchString(id) {
		return nil, nil, errUploadUnknown(id)
	}
	b, err := os.ReadFile(filepath.Join(s.uploadDir(id), uploadMeta))
	if err != nil {
		return nil, nil, errUploadUnknown(id)
	}
	var info uploadInfo
	if json.Unmarshal(b, &info) != nil || info.Repo != name {
		return nil, nil, errUploadUnknown(id)
	}
	s.mu.Lock()
	u, ok := s.uploads[id]
	if !ok {
		// Resumed after a restart: the hash is recomputed at commit.
		u = &upload{}
		s.uploads[id] = u
	}
	s.mu.Unlock()
	u.mu.Lock()
	if !exists(s.uploadDir(id)) {
		// Cancelled, committed or collected meanwhile.
		u.mu.Unlock()
		s.mu.Lock()
		if s.uploads[id] == u {
			delete(s.uploads, id)
		}
		s.mu.Unlock()
		return nil, nil, errUploadUnknown(id)
	}
	return u, u.mu.Unlock, nil
}

// uploadSize returns how many bytes upload id holds. The caller holds u.mu.
func (s *storage) uploadSize(id string) (int64, error) {
	fi, err := os.Stat(filepath.Join(s.uploadDir(id), uploadData))
	if err != nil {
		return 0, errUploadUnknown(id)
	}
	return fi.Size(), nil
}

// appendUpload appends r to upload id, whose current size must be start
// (start < 0 skips the check). The caller holds u.mu. It returns the new
// size.
func (s *storage) appendUpload(ctx context.Context, id string, u *upload, start int64, r io.Reader) (int64, error) {
	f, err := os.OpenFile(filepath.Join(s.uploadDir(id), uploadData), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, errUploadUnknown(id)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", id, err)
	}
	size := fi.Size()
	if start >= 0 && start != size {
		return size, errRange(size)
	}
	var w io.Writer = f
	if u.h != nil && u.off == size {
		w = io.MultiWriter(f, u.h)
	} else {
		u.h = nil
	}
	// Large reads mean fewer system calls for multi-megabyte layers.
	n, err := io.CopyBuffer(w, &ctxReader{ctx: ctx, r: r}, make([]byte, 256<<10))
	size += n
	u.off = size
	if err != nil {
		// The hash may hold bytes the file did not take.
		u.h = nil
		return size, fmt.Errorf("upload %s: %w", id, err)
	}
	return size, nil
}

// errRange is the answer to a chunk that does not start at the end of the
// upload.
func errRange(size int64) *Error {
	return newError(416, CodeBlobUploadInvalid, "content range does not continue the upload", map[string]int64{"size": size})
}

// commitUpload verifies upload id against d and, on success, makes it blob
// d of repository name. The upload is removed whatever the outcome, except
// when the failure is the server's own.
func (s *storage) commitUpload(ctx context.Context, name, id string, u *upload, d digest.Digest) (int64, error) {
	dataPath := filepath.Join(s.uploadDir(id), uploadData)
	f, err := os.OpenFile(dataPath, os.O_RDWR, 0)
	if err != nil {
		return 0, errUploadUnknown(id)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("upload %s: %w", id, err)
	}
	size := fi.Size()
	var got digest.Digest
	if d.Algorithm() == digest.SHA256 && u.h != nil && u.off == size {
		got = digest.NewDigest(digest.SHA256, u.h)
	} else {
		h := d.Algorithm().Hash()
		if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f}); err != nil {
			return 0, fmt.Errorf("upload %s: %w", id, err)
		}
		got = digest.NewDigest(d.Algorithm(), h)
	}
	if got != d {
		s.removeUpload(id)
		return 0, errDigestInvalid(fmt.Sprintf("provided digest %s does not match uploaded content %s", d, got))
	}
	// Past verification the blob must land even if the client goes away.
	ctx = context.WithoutCancel(ctx)
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("upload %s: %w", id, err)
	}
	if err := f.Chmod(0o444); err != nil {
		return 0, fmt.Errorf("upload %s: %w", id, err)
	}
	unlock, err := s.lock(ctx, false)
	if err != nil {
		return 0, err
	}
	defer unlock()
	final := s.blobPath(d)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return 0, fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := os.Rename(dataPath, final); err != nil {
		return 0, fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return 0, fmt.Errorf("commit blob %s: %w", d, err)
	}
	if err := s.link(name, d); err != nil {
		return 0, err
	}
	s.removeUpload(id)
	return size, nil
}

// removeUpload forgets upload id and deletes its files.
func (s *storage) removeUpload(id string) {
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
	os.RemoveAll(s.uploadDir(id))
}

// manifestLink is the content of a revision link.
type manifestLink struct {
	MediaType string `json:"mediaType"`
}

// resolve turns a tag or digest of repository name into a manifest digest.
func (s *storage) resolve(name, ref string) (digest.Digest, error) {
	if strings.Contains(ref, ":") {
		d, err := digest.Parse(ref)
		if err != nil {
			return "", errManifestUnknown(ref)
		}
		if !exists(s.revisionLink(name, d)) {
			return "", errManifestUnknown(ref)
		}
		return d, nil
	}
	if !validTag(ref) {
		return "", errManifestUnknown(ref)
	}
	b, err := os.ReadFile(filepath.Join(s.tagsDir(name), ref))
	if err != nil {
		return "", errManifestUnknown(ref)
	}
	d, err := digest.Parse(strings.TrimSpace(string(b)))
	if err != nil || !exists(s.revisionLink(name, d)) {
		return "", errManifestUnknown(ref)
	}
	return d, nil
}

// getManifest returns the manifest d of repository name and its media type.
func (s *storage) getManifest(name string, d digest.Digest) ([]byte, string, error) {
	lb, err := os.ReadFile(s.revisionLink(name, d))
	if err != nil {
		return nil, "", errManifestUnknown(d.String())
	}
	var l manifestLink
	if err := json.Unmarshal(lb, &l); err != nil {
		return nil, "", fmt.Errorf("manifest %s: corrupt link: %w", d, err)
	}
	b, err := os.ReadFile(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", errManifestUnknown(d.String())
	}
	if err != nil {
		return nil, "", fmt.Errorf("manifest %s: %w", d, err)
	}
	return b, l.MediaType, nil
}

// putManifest stores manifest body under digest d in repository name,
// tags it with tags, and indexes it as a referrer of subject when
// that is set. The caller has validated the manifest and holds the shared
// lock.
func (s *storage) putManifest(name string, d digest.Digest, mediaType string, body []byte, tags []string, subject *referrer) error {
	p := s.blobPath(d)
	if !exists(p) {
		if err := writeFileAtomic(p, body, 0o444); err != nil {
			return fmt.Errorf("put manifest %s: %w", d, err)
		}
	}
	// The modification time is what garbage collection's grace period
	// measures.
	now := s.now()
	if err := os.Chtimes(p, now, now); err != nil {
		return fmt.Errorf("put manifest %s: %w", d, err)
	}
	link, _ := json.Marshal(manifestLink{MediaType: mediaType})
	if err := writeFileAtomic(s.revisionLink(name, d), link, 0o644); err != nil {
		return fmt.Errorf("put manifest %s: %w", d, err)
	}
	if subject != nil {
		entry, _ := json.Marshal(subject.desc)
		p := filepath.Join(s.referrersDir(name, subject.subject), d.Algorithm().String()+"-"+d.Encoded())
		if err := writeFileAtomic(p, entry, 0o644); err != nil {
			return fmt.Errorf("put manifest %s: referrer: %w", d, err)
		}
	}
	for _, tag := range tags {
		if err := writeFileAtomic(filepath.Join(s.tagsDir(name), tag), []byte(d.String()), 0o644); err != nil {
			return fmt.Errorf("tag %s: %w", tag, err)
		}
	}
	return nil
}

// deleteTag removes tag from repository name.
func (s *storage) deleteTag(name, tag string) error {
	err := os.Remove(filepath.Join(s.tagsDir(name), tag))
	if errors.Is(err, fs.ErrNotExist) {
		return errManifestUnknown(tag)
	}
	return err
}

// deleteManifest removes manifest d from repository name, with every tag
// that points at it and its referrer entry.
func (s *storage) deleteManifest(name string, d digest.Digest) error {
	body, _, err := s.getManifest(name, d)
	if err != nil {
		return err
	}
	tags, err := s.tags(name)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if b, err := os.ReadFile(filepath.Join(s.tagsDir(name), t)); err == nil && strings.TrimSpace(string(b)) == d.String() {
			os.Remove(filepath.Join(s.tagsDir(name), t))
		}
	}
	if m, err := parseManifestJSON(body); err == nil && m.Subject != nil {
		if subj, err := digest.Parse(m.Subject.Digest.String()); err == nil {
			os.Remove(filepath.Join(s.referrersDir(name, subj), d.Algorithm().String()+"-"+d.Encoded()))
		}
	}
	if err := os.Remove(s.revisionLink(name, d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete manifest %s: %w", d, err)
	}
	return nil
}

// tags lists the tags of repository name in lexical order, or
// NAME_UNKNOWN when the repository does not exist.
func (s *storage) tags(name string) ([]string, error) {
	if !exists(s.repoDir(name)) {
		return nil, errNameUnknown(name)
	}
	entries, err := os.ReadDir(s.tagsDir(name))
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", name, err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if validTag(e.Name()) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// referrers returns the descriptors of the manifests of repository name
// whose subject is d.
func (s *storage) referrers(name string, d digest.Digest) ([]descriptor, error) {
	dir := s.referrersDir(name, d)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []descriptor{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("referrers of %s: %w", d, err)
	}
	out := make([]descriptor, 0, len(entries))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		var desc descriptor
		if json.Unmarshal(b, &desc) != nil || !exists(s.revisionLink(name, desc.Digest)) {
			continue
		}
		out = append(out, desc)
	}
	return out, nil
}

// repositories lists every repository that holds blobs or manifests, in
// lexical order.
func (s *storage) repositories() ([]string, error) {
	base := filepath.Join(s.root, dirRepos)
	var out []string
	err := filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !de.IsDir() || p == base {
			return nil
		}
		if strings.HasPrefix(de.Name(), "_") {
			return fs.SkipDir
		}
		if exists(filepath.Join(p, dirManifests)) || exists(filepath.Join(p, dirLayers)) {
			rel, _ := filepath.Rel(base, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// ctxReader stops a copy when its context ends.
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
