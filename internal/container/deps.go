package container

import (
	"context"
	"io"
	"net/netip"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// ImageInfo is what the container manager needs to know of an image.
type ImageInfo struct {
	// ID is the image ID, "sha256:…".
	ID string
	// ChainID is the chain ID of the image's top layer, "" for none.
	ChainID string
	// Config is the image's default container configuration.
	Config *container.Config
}

// Images resolves image references for create. Resolve returns an error
// wrapping errdefs.ErrNotFound for unknown images.
type Images interface {
	Resolve(ctx context.Context, ref string) (ImageInfo, error)
}

// RootFS makes container root filesystems: a writable layer per container
// on an image's layer chain, mounted at start and unmounted at exit.
type RootFS interface {
	Prepare(ctx context.Context, key string, parent string) error
	Mount(ctx context.Context, key, target string) error
	Unmount(ctx context.Context, target string) error
	Remove(ctx context.Context, key string) error
	Usage(ctx context.Context, key string) (int64, error)
	// UpperDir is the directory holding the changes of key, in overlay form
	// (0/0 character devices for deletions; for a copy driver, the whole tree).
	UpperDir(key string) string
}

// CommitRequest is what Committer.Commit makes an image of.
type CommitRequest struct {
	// ContainerID is the container committed; ImageID its image.
	ContainerID, ImageID string
	// Ref is "repo[:tag]" to tag the image with, "" for none.
	Ref string
	// Comment, Author and Changes as `docker commit` takes them.
	Comment, Author string
	Changes         []string
	// Config is the container configuration to record in the image.
	Config *container.Config
}

// Committer makes images of container changes. Commit reads layer, an
// uncompressed OCI layer tar of the changes, to its end or an error, and
// returns the new image's ID; bad changes or refs are ErrInvalidArgument.
type Committer interface {
	Commit(ctx context.Context, req CommitRequest, layer io.Reader) (string, error)
}

// Volumes is the volume store, as containers use it: references keep a
// volume from removal; Mount/Unmount bracket each run.
type Volumes interface {
	Create(ctx context.Context, name, driver string, opts, labels map[string]string) (volume.Volume, error)
	Acquire(ctx context.Context, name, containerID string) error
	Release(ctx context.Context, name, containerID string) error
	Mount(ctx context.Context, name, id string) (string, error)
	Unmount(ctx context.Context, name, id string) error
	Seed(ctx context.Context, name, srcDir string) error
	Remove(ctx context.Context, name string, force bool) error
}

// NetRequest is what a container asks of the network at start.
type NetRequest struct {
	ContainerID, Name, Hostname, Domainname string
	// Network is the network mode: "bridge", "default" or a network name.
	Network      string
	Endpoints    map[string]*network.EndpointSettings
	PortBindings network.PortMap
	ExposedPorts network.PortSet
	PublishAll   bool
	MacAddress   string
	DNS          []netip.Addr
	DNSSearch    []string
	DNSOptions   []string
	ExtraHosts   []string
}

// NetResult is a started container's network: its namespace and settings,
// and the /etc/hosts and /etc/resolv.conf to mount.
type NetResult struct {
	NSPath     string
	Networks   map[string]*network.EndpointSettings
	Ports      network.PortMap
	Hosts      []byte
	ResolvConf []byte
}

// Networks connects containers to networks. Setup leaves nothing behind on
// error; Teardown is idempotent. Connect and Disconnect act on the sandbox
// of a running container.
type Networks interface {
	Exists(ctx context.Context, ref string) (name string, err error)
	Setup(ctx context.Context, req NetRequest) (NetResult, error)
	Teardown(ctx context.Context, containerID string) error
	Connect(ctx context.Context, containerID, ref string, es *network.EndpointSettings) (map[string]*network.EndpointSettings, error)
	Disconnect(ctx context.Context, containerID, ref string) (map[string]*network.EndpointSettings, error)
}

// Publisher receives container events.
type Publisher interface {
	Publish(typ events.Type, action events.Action, actor events.Actor)
}
