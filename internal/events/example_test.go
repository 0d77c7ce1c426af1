package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/events"

	berthevents "berth/internal/events"
	"berth/internal/filters"
)

// A replay of past events: until is not after the bus clock, so the channel
// closes once the buffered matches are delivered.
func ExampleBus_Subscribe() {
	now := time.Unix(1700000000, 0)
	bus := berthevents.NewBus(berthevents.DefaultCapacity, func() time.Time { return now })
	bus.Publish(events.ContainerEventType, events.ActionCreate, events.Actor{ID: "c1", Attributes: map[string]string{"name": "web"}})
	bus.Publish(events.ContainerEventType, events.ActionStart, events.Actor{ID: "c1", Attributes: map[string]string{"name": "web"}})
	bus.Publish(events.NetworkEventType, events.ActionConnect, events.Actor{ID: "n1", Attributes: map[string]string{"name": "bridge"}})

	f, err := filters.Parse(`{"container":{"web":true},"event":["start"]}`)
	if err != nil {
		panic(err)
	}
	ch, err := bus.Subscribe(context.Background(), time.Unix(0, 1), now, f)
	if err != nil {
		panic(err)
	}
	for m := range ch {
		fmt.Println(m.Type, m.Action, m.Actor.ID, m.Time)
	}
	// Output:
	// container start c1 1700000000
}
