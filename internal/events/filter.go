package events

import (
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"berth/internal/filters"
)

// FilterKeys are the filter keys GET /events accepts, as in dockerd.
func FilterKeys() map[string]bool {
	return map[string]bool{
		"config":    true,
		"container": true,
		"daemon":    true,
		"event":     true,
		"image":     true,
		"label":     true,
		"network":   true,
		"node":      true,
		"plugin":    true,
		"scope":     true,
		"secret":    true,
		"service":   true,
		"type":      true,
		"volume":    true,
	}
}

// Match reports whether msg passes f, with dockerd's /events semantics:
//
//   - type, scope: exact match;
//   - event: exact match on the action, or a prefix match when a filter value
//     is one of the actions that carry a suffix ("exec_create", "exec_start",
//     "health_status"), so "exec_start" matches "exec_start: sh";
//   - container, daemon, network, volume, plugin, node, service, secret,
//     config: a prefix of the actor ID or equal-or-prefix of its "name"
//     attribute (applied to every event, as dockerd does);
//   - image: the actor ID or the image name ("image" attribute of container
//     events, "name" of image events), with or without tag, in familiar form;
//   - label: every value must match an attribute ("k" or "k=v").
//
// f is not validated here; Subscribe validates it.
func Match(f filters.Args, msg events.Message) bool {
	return matchEvent(f, msg) &&
		f.ExactMatch("type", string(msg.Type)) &&
		f.ExactMatch("scope", msg.Scope) &&
		matchName(f, "daemon", msg) &&
		matchName(f, "container", msg) &&
		matchName(f, "plugin", msg) &&
		matchName(f, "volume", msg) &&
		matchName(f, "network", msg) &&
		matchName(f, "node", msg) &&
		matchName(f, "service", msg) &&
		matchName(f, "secret", msg) &&
		matchName(f, "config", msg) &&
		matchImage(f, msg) &&
		f.MatchKVList("label", msg.Actor.Attributes)
}

// newFilter validates f and returns its predicate.
func newFilter(f filters.Args) (func(events.Message) bool, error) {
	if err := f.Validate(FilterKeys()); err != nil {
		return nil, err
	}
	return func(m events.Message) bool { return Match(f, m) }, nil
}

func matchEvent(f filters.Args, msg events.Message) bool {
	for _, v := range f.Get("event") {
		switch events.Action(v) {
		case events.ActionExecCreate, events.ActionExecStart, events.ActionHealthStatus:
			return f.FuzzyMatch("event", string(msg.Action))
		}
	}
	return f.ExactMatch("event", string(msg.Action))
}

func matchName(f filters.Args, key string, msg events.Message) bool {
	return f.FuzzyMatch(key, msg.Actor.ID) || f.FuzzyMatch(key, msg.Actor.Attributes["name"])
}

func matchImage(f filters.Args, msg events.Message) bool {
	if !f.Contains("image") {
		return true
	}
	attr := "image"
	if msg.Type == events.ImageEventType {
		attr = "name"
	}
	id, name := msg.Actor.ID, msg.Actor.Attributes[attr]
	return f.ExactMatch("image", id) ||
		f.ExactMatch("image", name) ||
		f.ExactMatch("image", familiarName(id)) ||
		f.ExactMatch("image", familiarName(name))
}

// familiarName strips tag and digest and the docker.io/library prefixes:
// "docker.io/library/busybox:latest" → "busybox". Unparsable input is returned
// as is.
func familiarName(s string) string {
	if s == "" {
		return s
	}
	ref, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return s
	}
	return reference.FamiliarName(ref)
}
