package ipam

import (
	"context"
	"fmt"
	"sync"
)

// Store persists the State. berth implements it over its bbolt file; tests
// use an in-memory one.
//
// Load returns the zero State and a nil error when nothing was saved yet.
// Save must be durable when it returns nil: the Allocator hands out an
// address only after saving the State that records it. Both are called
// with the Allocator's lock held, never concurrently.
type Store interface {
	Load(ctx context.Context) (State, error)
	Save(ctx context.Context, s State) error
}

// Allocator applies State decisions: it computes the next State, saves it,
// and only then makes it current and returns the result. A failed Save
// leaves the Allocator as it was. It is safe for concurrent use.
type Allocator struct {
	cfg   Config
	store Store

	mu    sync.Mutex
	state State
}

// New validates cfg and loads the saved State.
func New(ctx context.Context, cfg Config, store Store) (*Allocator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("ipam: load state: %w", err)
	}
	return &Allocator{cfg: cfg, store: store, state: st}, nil
}

// State returns a deep copy of the current State.
func (a *Allocator) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state.Clone()
}

func (a *Allocator) apply(ctx context.Context, decide func(State) (State, error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next, err := decide(a.state)
	if err != nil {
		return err
	}
	if err := a.store.Save(ctx, next); err != nil {
		return fmt.Errorf("ipam: save state: %w", err)
	}
	a.state = next
	return nil
}

// CreateNetwork decides and records a new network's subnets (State.AddNetwork
// with the configured pools).
func (a *Allocator) CreateNetwork(ctx context.Context, req NetworkRequest) (Network, error) {
	var n Network
	err := a.apply(ctx, func(s State) (State, error) {
		next, got, err := s.AddNetwork(a.cfg.pools(), req)
		n = got
		return next, err
	})
	return n, err
}

// RemoveNetwork forgets a network (State.RemoveNetwork).
func (a *Allocator) RemoveNetwork(ctx context.Context, id string) error {
	return a.apply(ctx, func(s State) (State, error) { return s.RemoveNetwork(id) })
}

// AllocateEndpoint hands out an endpoint's addresses (State.AllocateEndpoint).
func (a *Allocator) AllocateEndpoint(ctx context.Context, req EndpointRequest) (Endpoint, error) {
	var ep Endpoint
	err := a.apply(ctx, func(s State) (State, error) {
		next, got, err := s.AllocateEndpoint(req)
		ep = got
		return next, err
	})
	return ep, err
}

// ReleaseEndpoint frees an endpoint's addresses on one network.
func (a *Allocator) ReleaseEndpoint(ctx context.Context, network, owner string) error {
	return a.apply(ctx, func(s State) (State, error) { return s.ReleaseEndpoint(network, owner) })
}

// ReleaseOwner frees an owner's addresses on every network.
func (a *Allocator) ReleaseOwner(ctx context.Context, owner string) error {
	return a.apply(ctx, func(s State) (State, error) { return s.ReleaseOwner(owner), nil })
}
