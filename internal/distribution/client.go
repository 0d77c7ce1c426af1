package distribution

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"berth/internal/content"
	"berth/internal/image"
	"berth/internal/snapshot"
)

// Images is what the client needs of the image store (*image.Store).
type Images interface {
	// Get returns the image ref names, or an errdefs.ErrNotFound error.
	Get(ctx context.Context, ref string) (*image.Image, error)
	// Images lists every image.
	Images(ctx context.Context) ([]*image.Image, error)
	// Create records an image whose blobs are in the content store;
	// present layers are not unpacked again.
	Create(ctx context.Context, config []byte, layers []ocispec.Descriptor, manifestDigest digest.Digest) (*image.Image, error)
	// Tag points target at the image source names.
	Tag(ctx context.Context, source, target string) error
	// AddRepoDigest records name@digest for the image id.
	AddRepoDigest(ctx context.Context, id digest.Digest, ref reference.Canonical) error
}

// Progress receives a pull's or push's progress in the Engine API's JSON
// message form. The client serialises calls of one operation.
type Progress func(jsonstream.Message)

// Client pulls and pushes images.
type Client struct {
	cfg    Config
	images Images
	cs     *content.Store
	snap   snapshot.Snapshotter
}

// New returns a client storing pulled images in images, cs and snap.
func New(cfg Config, images Images, cs *content.Store, snap snapshot.Snapshotter) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
		return nil, fmt.Errorf("distribution: %w", err)
	}
	return &Client{cfg: cfg, images: images, cs: cs, snap: snap}, nil
}

// progress serialises the messages of one operation.
type progress struct {
	mu sync.Mutex
	fn Progress
}

func newProgress(fn Progress) *progress {
	if fn == nil {
		fn = func(jsonstream.Message) {}
	}
	return &progress{fn: fn}
}

func (p *progress) send(m jsonstream.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn(m)
}

func (p *progress) status(id, status string) {
	p.send(jsonstream.Message{ID: id, Status: status})
}

func (p *progress) bar(id, status string, current, total int64) {
	p.send(jsonstream.Message{ID: id, Status: status, Progress: &jsonstream.Progress{Current: current, Total: total}})
}

func (p *progress) aux(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	raw := json.RawMessage(b)
	p.send(jsonstream.Message{Aux: &raw})
}

// shortID is Docker's 12-character form of a digest.
func shortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// meter reports the progress of a transfer at most every 1/64 of its size
// (and at least every 512 KiB).
type meter struct {
	p      *progress
	id     string
	status string
	total  int64
	last   int64
}

func (m *meter) update(current int64) {
	step := max(m.total/64, 512<<10)
	if current-m.last >= step || (current == m.total && current != m.last) {
		m.last = current
		m.p.bar(m.id, m.status, current, m.total)
	}
}
