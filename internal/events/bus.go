// Package events is the event bus behind GET /events.
//
// Components call Bus.Publish for every lifecycle change (container create,
// start, die, image pull, network connect, …). Subscribers get a channel of
// events.Message, first replaying the buffered events within [since, until],
// then receiving live ones, filtered with Docker's /events filter keys.
//
// # Concurrency and back-pressure
//
// Publish never blocks on subscribers: it appends the message to a ring of
// the last capacity events and to each matching subscriber's queue, under
// short mutexes. Each subscriber has one goroutine that moves its queue to
// the caller's channel. A queue holds at most QueueLimit live events; when a
// subscriber falls that far behind, further events for it are dropped and
// counted (Bus.Dropped), and a warning is logged on the subscriber's context.
// This is the same trade dockerd makes (its pubsub drops after a timeout), but
// without ever stalling the publisher.
//
// Messages are shared between subscribers and the ring: treat them,
// including Actor.Attributes, as read-only.
package events

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	"berth/internal/filters"
	"berth/internal/log"
)

// QueueLimit is the number of live events a subscriber may fall behind
// before events for it are dropped.
const QueueLimit = 1024

// DefaultCapacity is the number of past events dockerd keeps for replays.
const DefaultCapacity = 256

// Bus fans events out to subscribers and keeps the last events for replays.
// It is safe for concurrent use. The zero value is not usable; call NewBus.
type Bus struct {
	now      func() time.Time
	capacity int

	mu   sync.Mutex
	ring []events.Message // len ≤ capacity; oldest at head
	head int              // index of the oldest event once the ring is full
	subs map[*subscriber]struct{}

	dropped atomic.Uint64
}

// NewBus returns a bus that keeps the last capacity events (DefaultCapacity
// when capacity ≤ 0) and stamps events with now (time.Now when nil).
func NewBus(capacity int, now func() time.Time) *Bus {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if now == nil {
		now = time.Now
	}
	return &Bus{
		now:      now,
		capacity: capacity,
		ring:     make([]events.Message, 0, capacity),
		subs:     map[*subscriber]struct{}{},
	}
}

// Publish records an event of type typ with the given action and actor,
// stamped with the bus clock and scope "local", and delivers it to the
// matching subscribers. It never blocks on subscribers. The actor's
// Attributes map is copied.
//
// The API types of v1.52+ no longer carry the legacy Status/ID/From fields;
// Legacy derives them for older API versions.
func (b *Bus) Publish(typ events.Type, action events.Action, actor events.Actor) {
	now := b.now()
	actor.Attributes = maps.Clone(actor.Attributes)
	if actor.Attributes == nil {
		actor.Attributes = map[string]string{}
	}
	msg := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    actor,
		Scope:    "local",
		Time:     now.Unix(),
		TimeNano: now.UnixNano(),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.ring) < b.capacity {
		b.ring = append(b.ring, msg)
	} else {
		b.ring[b.head] = msg
		b.head = (b.head + 1) % b.capacity
	}
	for s := range b.subs {
		s.offer(msg, &b.dropped)
	}
}

// Dropped returns how many events were dropped, over all subscribers, because
// a subscriber fell more than QueueLimit events behind.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Subscribe returns a channel that first carries the buffered events with
// since ≤ time ≤ until (zero bounds are open; with both zero nothing is
// replayed, as in dockerd), then live events, all filtered by f. The channel
// is closed when ctx ends, or when until is non-zero and passes (at once after
// the replay when until is already past). Filter keys are validated: an
// unknown key is "invalid filter 'KEY'" and until before since is an error,
// both errdefs.ErrInvalidArgument.
//
// The caller must keep receiving until the channel is closed or ctx ends; a
// subscriber that stops reading only loses events, it never blocks Publish.
func (b *Bus) Subscribe(ctx context.Context, since, until time.Time, f filters.Args) (<-chan events.Message, error) {
	match, err := newFilter(f)
	if err != nil {
		return nil, err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return nil, fmt.Errorf("`since` time (%s) cannot be after `until` time (%s): %w",
			since.Format(time.RFC3339Nano), until.Format(time.RFC3339Nano), errdefs.ErrInvalidArgument)
	}
	s := &subscriber{match: match, wake: make(chan struct{}, 1)}
	if !until.IsZero() {
		s.until = until.UnixNano()
	}

	b.mu.Lock()
	replay := b.replayLocked(since, until, match)
	now := b.now()
	pastOnly := !until.IsZero() && !until.After(now)
	if !pastOnly {
		b.subs[s] = struct{}{}
	}
	b.mu.Unlock()

	if pastOnly {
		s.ended = true
	}
	var timer *time.Timer
	if !until.IsZero() && !pastOnly {
		timer = time.NewTimer(until.Sub(now))
	}
	out := make(chan events.Message)
	go s.run(ctx, b, out, replay, timer)
	return out, nil
}

// replayLocked returns the ring's events within [since, until] that match.
func (b *Bus) replayLocked(since, until time.Time, match func(events.Message) bool) []events.Message {
	if since.IsZero() && until.IsZero() {
		return nil
	}
	var lo, hi int64
	if !since.IsZero() {
		lo = since.UnixNano()
	}
	if !until.IsZero() {
		hi = until.UnixNano()
	}
	var out []events.Message
	for i := range b.ring {
		m := b.ring[(b.head+i)%len(b.ring)]
		if m.TimeNano < lo || (hi != 0 && m.TimeNano > hi) {
			continue
		}
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

func (b *Bus) remove(s *subscriber) {
	b.mu.Lock()
	delete(b.subs, s)
	b.mu.Unlock()
}

// subscriber is one Subscribe call: a bounded queue filled by Publish and
// drained by run.
type subscriber struct {
	match func(events.Message) bool
	until int64 // UnixNano; 0 = none
	wake  chan struct{}

	mu      sync.Mutex
	queue   []events.Message
	ended   bool // until has passed: drain the queue and stop
	dropped uint64
}

// offer queues msg if it matches; called with the bus lock held.
func (s *subscriber) offer(msg events.Message, total *atomic.Uint64) {
	s.mu.Lock()
	switch {
	case s.ended:
	case s.until != 0 && msg.TimeNano > s.until:
		s.ended = true
	case !s.match(msg):
		s.mu.Unlock()
		return
	case len(s.queue) >= QueueLimit:
		s.dropped++
		total.Add(1)
		s.mu.Unlock()
		return
	default:
		s.queue = append(s.queue, msg)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run delivers the replay, then the queue, to out until ctx ends or the
// subscription ends; it closes out when it returns.
func (s *subscriber) run(ctx context.Context, b *Bus, out chan<- events.Message, replay []events.Message, timer *time.Timer) {
	defer close(out)
	defer b.remove(s)
	var expired <-chan time.Time
	if timer != nil {
		defer timer.Stop()
		expired = timer.C
	}
	for _, m := range replay {
		select {
		case out <- m:
		case <-ctx.Done():
			return
		}
	}
	var reported uint64
	for {
		s.mu.Lock()
		batch, ended, dropped := s.queue, s.ended, s.dropped
		s.queue = nil
		s.mu.Unlock()
		if dropped != reported {
			log.From(ctx).Warn("events subscriber too slow, events dropped", "dropped", dropped-reported)
			reported = dropped
		}
		for _, m := range batch {
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
		if ended {
			return
		}
		select {
		case <-s.wake:
		case <-expired:
			expired = nil
			s.mu.Lock()
			s.ended = true
			s.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}
