package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	berthevents "berth/internal/events"
	"berth/internal/filters"
)

func ctr(id, name, image string) events.Actor {
	return events.Actor{ID: id, Attributes: map[string]string{"name": name, "image": image}}
}

// recv reads what is ready on ch after every goroutine of the bubble has
// blocked, and reports whether ch was closed.
func recv(ch <-chan events.Message) (got []events.Message, closed bool) {
	for {
		synctest.Wait()
		select {
		case m, ok := <-ch:
			if !ok {
				return got, true
			}
			got = append(got, m)
		default:
			return got, false
		}
	}
}

func actions(ms []events.Message) string {
	var s []string
	for _, m := range ms {
		s = append(s, string(m.Action))
	}
	return strings.Join(s, ",")
}

func TestBus_PublishFillsFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(10, time.Now)
		ch, err := b.Subscribe(t.Context(), time.Time{}, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{"name": "web", "image": "busybox"}
		b.Publish(events.ContainerEventType, events.ActionStart, events.Actor{ID: "abc", Attributes: attrs})
		attrs["name"] = "mutated"
		got, _ := recv(ch)
		if len(got) != 1 {
			t.Fatalf("got %d events", len(got))
		}
		m := got[0]
		now := time.Now()
		if m.Type != events.ContainerEventType || m.Action != events.ActionStart || m.Scope != "local" ||
			m.Time != now.Unix() || m.TimeNano != now.UnixNano() || m.Actor.ID != "abc" {
			t.Fatalf("bad message %+v", m)
		}
		if m.Actor.Attributes["name"] != "web" {
			t.Fatal("Publish did not copy the attributes")
		}
	})
}

func TestBus_ReplaySinceUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(3, time.Now)
		t0 := time.Now()
		for _, a := range []events.Action{"a", "b", "c", "d"} { // "a" falls out of the ring
			b.Publish(events.ContainerEventType, a, ctr("x", "x", "i"))
			time.Sleep(time.Second)
		}
		// now = t0+4s; events at t0 (gone), t0+1, t0+2, t0+3
		tests := []struct {
			name         string
			since, until time.Time
			want         string
			wantClosed   bool
		}{
			{"since epoch", time.Unix(0, 1), time.Time{}, "b,c,d", false},
			{"since middle", t0.Add(2 * time.Second), time.Time{}, "c,d", false},
			{"since and past until", t0.Add(time.Second), t0.Add(2 * time.Second), "b,c", true},
			{"until only", time.Time{}, t0.Add(time.Second), "b", true},
			{"no bounds, no replay", time.Time{}, time.Time{}, "", false},
		}
		for _, tt := range tests {
			ctx, cancel := context.WithCancel(t.Context())
			ch, err := b.Subscribe(ctx, tt.since, tt.until, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, closed := recv(ch)
			if actions(got) != tt.want || closed != tt.wantClosed {
				t.Errorf("%s: got %q closed=%v, want %q closed=%v", tt.name, actions(got), closed, tt.want, tt.wantClosed)
			}
			cancel()
			recv(ch)
		}
	})
}

func TestBus_UntilInFutureClosesStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(10, time.Now)
		ch, err := b.Subscribe(t.Context(), time.Time{}, time.Now().Add(time.Minute), nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Publish(events.ContainerEventType, "a", ctr("x", "x", "i"))
		got, closed := recv(ch)
		if actions(got) != "a" || closed {
			t.Fatalf("got %q closed=%v", actions(got), closed)
		}
		time.Sleep(time.Minute + time.Nanosecond)
		b.Publish(events.ContainerEventType, "late", ctr("x", "x", "i"))
		got, closed = recv(ch)
		if len(got) != 0 || !closed {
			t.Fatalf("after until: got %q closed=%v", actions(got), closed)
		}
	})
}

func TestBus_ContextEndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(10, time.Now)
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := b.Subscribe(ctx, time.Time{}, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, closed := recv(ch); !closed {
			t.Fatal("channel not closed after cancel")
		}
		b.Publish(events.ContainerEventType, "a", ctr("x", "x", "i")) // no subscriber left to block on
	})
}

func TestBus_SlowSubscriberDrops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(10, time.Now)
		ch, err := b.Subscribe(t.Context(), time.Time{}, time.Time{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The subscriber goroutine holds at most one taken batch plus a full
		// queue (QueueLimit each); everything beyond is dropped, not blocked on.
		n := 3 * berthevents.QueueLimit
		for range n {
			b.Publish(events.ContainerEventType, "a", ctr("x", "x", "i"))
		}
		if b.Dropped() < uint64(n-2*berthevents.QueueLimit) {
			t.Fatalf("Dropped = %d, want at least %d", b.Dropped(), n-2*berthevents.QueueLimit)
		}
		got, _ := recv(ch)
		if uint64(len(got))+b.Dropped() != uint64(n) {
			t.Fatalf("received %d + dropped %d != published %d", len(got), b.Dropped(), n)
		}
	})
}

func TestBus_SubscribeErrors(t *testing.T) {
	b := berthevents.NewBus(10, nil)
	_, err := b.Subscribe(t.Context(), time.Time{}, time.Time{}, filters.Args{"bogus": {"x": true}})
	if err == nil || err.Error() != "invalid filter 'bogus'" || !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad key: %v", err)
	}
	now := time.Now()
	_, err = b.Subscribe(t.Context(), now, now.Add(-time.Second), nil)
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("until before since: %v", err)
	}
}

func TestBus_FilteredStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := berthevents.NewBus(10, time.Now)
		ch, err := b.Subscribe(t.Context(), time.Time{}, time.Time{}, filters.Args{"type": {"container": true}})
		if err != nil {
			t.Fatal(err)
		}
		b.Publish(events.NetworkEventType, "create", events.Actor{ID: "n1"})
		b.Publish(events.ContainerEventType, "start", ctr("c1", "web", "busybox"))
		got, _ := recv(ch)
		if actions(got) != "start" {
			t.Fatalf("got %q", actions(got))
		}
	})
}

func TestMatch(t *testing.T) {
	container := events.Message{Type: events.ContainerEventType, Action: "start", Scope: "local",
		Actor: events.Actor{ID: "abcdef123", Attributes: map[string]string{
			"name": "web", "image": "docker.io/library/busybox:latest", "com.example": "x"}}}
	exec := events.Message{Type: events.ContainerEventType, Action: "exec_start: sh -c true", Scope: "local",
		Actor: container.Actor}
	image := events.Message{Type: events.ImageEventType, Action: "pull", Scope: "local",
		Actor: events.Actor{ID: "sha256:deadbeef", Attributes: map[string]string{"name": "busybox:1.36"}}}
	network := events.Message{Type: events.NetworkEventType, Action: "connect", Scope: "local",
		Actor: events.Actor{ID: "net123", Attributes: map[string]string{"name": "bridge", "container": "abcdef123"}}}
	volume := events.Message{Type: events.VolumeEventType, Action: "mount", Scope: "local",
		Actor: events.Actor{ID: "vol1", Attributes: map[string]string{"driver": "local"}}}
	daemon := events.Message{Type: events.DaemonEventType, Action: "reload", Scope: "local",
		Actor: events.Actor{ID: "daemonid", Attributes: map[string]string{"name": "host1"}}}

	tests := []struct {
		name string
		f    filters.Args
		msg  events.Message
		want bool
	}{
		{"empty", nil, container, true},
		{"type hit", filters.Args{"type": {"container": true}}, container, true},
		{"type miss", filters.Args{"type": {"image": true}}, container, false},
		{"event hit", filters.Args{"event": {"start": true, "die": true}}, container, true},
		{"event miss", filters.Args{"event": {"die": true}}, container, false},
		{"exec prefix", filters.Args{"event": {"exec_start": true}}, exec, true},
		{"exec exact", filters.Args{"event": {"exec_start: sh -c true": true}}, exec, true},
		{"exec not start", filters.Args{"event": {"exec_create": true}}, exec, false},
		{"no prefix for others", filters.Args{"event": {"sta": true}}, container, false},
		{"container id prefix", filters.Args{"container": {"abc": true}}, container, true},
		{"container name", filters.Args{"container": {"web": true}}, container, true},
		{"container miss", filters.Args{"container": {"db": true}}, container, false},
		{"container filter drops network", filters.Args{"container": {"web": true}}, network, false},
		{"image on container", filters.Args{"image": {"busybox": true}}, container, true},
		{"image full on container", filters.Args{"image": {"docker.io/library/busybox:latest": true}}, container, true},
		{"image on image event", filters.Args{"image": {"busybox": true}}, image, true},
		{"image tag on image event", filters.Args{"image": {"busybox:1.36": true}}, image, true},
		{"image id", filters.Args{"image": {"sha256:deadbeef": true}}, image, true},
		{"image miss", filters.Args{"image": {"alpine": true}}, container, false},
		{"label key", filters.Args{"label": {"com.example": true}}, container, true},
		{"label kv", filters.Args{"label": {"com.example=x": true}}, container, true},
		{"label miss", filters.Args{"label": {"com.example=y": true}}, container, false},
		{"network name", filters.Args{"network": {"bridge": true}}, network, true},
		{"network id prefix", filters.Args{"network": {"net": true}}, network, true},
		{"network miss", filters.Args{"network": {"host": true}}, network, false},
		{"volume", filters.Args{"volume": {"vol1": true}}, volume, true},
		{"volume miss", filters.Args{"volume": {"vol2": true}}, volume, false},
		{"daemon", filters.Args{"daemon": {"host1": true}}, daemon, true},
		{"scope", filters.Args{"scope": {"local": true}}, container, true},
		{"scope swarm", filters.Args{"scope": {"swarm": true}}, container, false},
		{"combined", filters.Args{"type": {"container": true}, "event": {"start": true}, "container": {"web": true}}, container, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := berthevents.Match(tt.f, tt.msg); got != tt.want {
				t.Fatalf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLegacy(t *testing.T) {
	m := events.Message{Type: events.ContainerEventType, Action: "start", Scope: "local", Time: 1, TimeNano: 1000000000,
		Actor: events.Actor{ID: "abc", Attributes: map[string]string{"image": "busybox"}}}
	b, err := json.Marshal(berthevents.Legacy(m))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"status":"start","id":"abc","from":"busybox","Type":"container","Action":"start",` +
		`"Actor":{"ID":"abc","Attributes":{"image":"busybox"}},"scope":"local","time":1,"timeNano":1000000000}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	n := berthevents.Legacy(events.Message{Type: events.NetworkEventType, Actor: events.Actor{ID: "n"}})
	if n.Status != "" || n.ID != "" || n.From != "" {
		t.Fatalf("network event got legacy fields: %+v", n)
	}
}
