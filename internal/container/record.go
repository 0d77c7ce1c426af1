package container

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// State is a container's lifecycle state as persisted.
type State struct {
	Status       container.ContainerState
	Pid          int
	ExitCode     int
	Error        string
	OOMKilled    bool
	StartedAt    time.Time
	FinishedAt   time.Time
	RestartCount int
	// ManuallyStopped is set by stop and kill so restart policies
	// (except after a daemon restart for always) leave the container down.
	ManuallyStopped bool
	// StartedBefore is set once the container ran, for unless-stopped.
	StartedBefore bool
	// Health is the health check state of the current run, nil without one.
	Health *container.Health `json:",omitempty"`
}

// Record is a container as persisted in the metadata store.
type Record struct {
	ID         string
	Name       string // without the leading "/"
	Created    time.Time
	Path       string
	Args       []string
	Image      string // image ID, "sha256:…"
	ImageRef   string // the reference the user gave
	ChainID    string // top layer chain ID of the image ("" for none)
	Config     *container.Config
	HostConfig *container.HostConfig
	State      State
	LogPath    string
	Runtime    string
	// Volumes are the container's volumes, resolved at create.
	Volumes []VolumeRef `json:",omitempty"`
	// Endpoints are the networks asked for at create (and by connect).
	Endpoints map[string]*network.EndpointSettings `json:",omitempty"`
	// Net is the network of the current run, empty when stopped.
	Net *NetState `json:",omitempty"`
}

// NetState is a running container's network.
type NetState struct {
	SandboxKey string
	Networks   map[string]*network.EndpointSettings
	Ports      network.PortMap
}

// entry is a container in memory: its record plus what runs for it.
type entry struct {
	mu  sync.Mutex
	rec Record
	// changed is closed and replaced on every state change; waiters select on it.
	changed chan struct{}
	// pending attachments for a container that is not started yet.
	pending []*pendingAttach
	// restartTimer is the back-off timer of a restarting container.
	restartCancel func()
	// removed is closed when the container is gone.
	removed chan struct{}
	// stopping is set while stop/kill/remove run, so exits are not restarted.
	stopping bool
	// removing is set while Remove runs.
	removing bool
	// stopped is closed when the current run's exit was applied.
	exited chan struct{}
	execs  map[string]*Exec
	// exitGen counts the exits applied; waiters compare against it.
	exitGen uint64
	// lastStats is the latest stats sample, the precpu of the next one.
	lastStats *container.StatsResponse
	// lastDelay is the last restart back-off.
	lastDelay time.Duration
}

func (e *entry) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *entry) running() bool {
	s := e.rec.State.Status
	return s == container.StateRunning || s == container.StatePaused
}
