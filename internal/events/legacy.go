package events

import "github.com/moby/moby/api/types/events"

// LegacyMessage is an event as API versions before 1.52 encode it: the
// current fields plus the deprecated "status", "id" and "from" that dockerd
// fills for container and image events. The API types module no longer has
// these fields, so the router encodes this type for old clients.
type LegacyMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

// Legacy adds the deprecated fields to m as dockerd's event logger does:
// container events get status (the action), id (the actor ID) and from (the
// "image" attribute); image events get status and id; others get none.
func Legacy(m events.Message) LegacyMessage {
	l := LegacyMessage{Message: m}
	switch m.Type {
	case events.ContainerEventType:
		l.Status, l.ID, l.From = string(m.Action), m.Actor.ID, m.Actor.Attributes["image"]
	case events.ImageEventType:
		l.Status, l.ID = string(m.Action), m.Actor.ID
	}
	return l
}
