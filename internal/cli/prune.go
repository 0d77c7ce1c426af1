package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

// labelCond is one label or label! prune filter: key, or key=value.
type labelCond struct {
	key, value string
	hasValue   bool
	negate     bool
}

// pruneFilter is the parsed --filter of a prune command; the daemon applies
// the same rules, and --dry-run applies them client-side.
type pruneFilter struct {
	until  time.Time
	labels []labelCond
}

// parsePruneFilters accepts Docker's prune filters: until=<timestamp>,
// label=<key>[=<value>] and label!=<key>[=<value>].
func parsePruneFilters(args []string, now time.Time) (pruneFilter, error) {
	var f pruneFilter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return pruneFilter{}, fmt.Errorf("bad format of filter (expected name=value)")
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case k == "until":
			t, err := parseTimestamp(v, now)
			if err != nil {
				return pruneFilter{}, err
			}
			f.until = t
		case k == "label":
			lk, lv, has := strings.Cut(v, "=")
			f.labels = append(f.labels, labelCond{key: lk, value: lv, hasValue: has})
		case k == "label!":
			lk, lv, has := strings.Cut(v, "=")
			f.labels = append(f.labels, labelCond{key: lk, value: lv, hasValue: has, negate: true})
		default:
			return pruneFilter{}, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	return f, nil
}

// matchLabels reports whether labels satisfy every label condition.
func (f pruneFilter) matchLabels(labels map[string]string) bool {
	for _, c := range f.labels {
		v, ok := labels[c.key]
		match := ok && (!c.hasValue || v == c.value)
		if match == c.negate {
			return false
		}
	}
	return true
}

// beforeUntil reports whether something created at unix time created passes
// the until filter.
func (f pruneFilter) beforeUntil(created time.Time) bool {
	return f.until.IsZero() || created.Before(f.until)
}

// isStopped reports whether container prune removes a container in state s:
// every container that is not running, paused, restarting or being removed.
func isStopped(s container.ContainerState) bool {
	switch s {
	case container.StateCreated, container.StateExited, container.StateDead:
		return true
	}
	return false
}

// selectContainersToPrune returns the containers `container prune` removes.
func selectContainersToPrune(cs []container.Summary, f pruneFilter) []container.Summary {
	var out []container.Summary
	for _, c := range cs {
		if !isStopped(c.State) || !f.beforeUntil(time.Unix(c.Created, 0)) || !f.matchLabels(c.Labels) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// imagesInUse returns the IDs of the images used by the given containers.
func imagesInUse(cs []container.Summary) map[string]bool {
	used := map[string]bool{}
	for _, c := range cs {
		if c.ImageID != "" {
			used[c.ImageID] = true
		}
	}
	return used
}

// selectImagesToPrune returns the images `image prune` removes: dangling
// images, or with all every image no container uses; both never touch an
// image a container uses.
func selectImagesToPrune(imgs []image.Summary, inUse map[string]bool, all bool, f pruneFilter) []image.Summary {
	var out []image.Summary
	for _, img := range imgs {
		if !all && !isDangling(img) {
			continue
		}
		if inUse[img.ID] || !f.beforeUntil(time.Unix(img.Created, 0)) || !f.matchLabels(img.Labels) {
			continue
		}
		out = append(out, img)
	}
	return out
}

// anonymousVolumeLabel marks volumes created without a name.
const anonymousVolumeLabel = "com.docker.volume.anonymous"

// localVolumeDriver is the built-in volume driver, the only one prune touches.
const localVolumeDriver = "local"

// volumePruneFilter is the parsed --filter of `volume prune`: label
// conditions and all=<bool>; until is not supported for volumes.
type volumePruneFilter struct {
	pruneFilter
	all bool
}

// parseVolumePruneFilters accepts the filters the daemon takes for a
// volume prune: label, label! and all.
func parseVolumePruneFilters(args []string) (volumePruneFilter, error) {
	var f volumePruneFilter
	var rest []string
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return volumePruneFilter{}, fmt.Errorf("bad format of filter (expected name=value)")
		}
		switch k = strings.ToLower(strings.TrimSpace(k)); k {
		case "all":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return volumePruneFilter{}, fmt.Errorf("invalid filter 'all=%s': %w", v, err)
			}
			f.all = b
		case "label", "label!":
			rest = append(rest, a)
		default:
			return volumePruneFilter{}, fmt.Errorf("invalid filter '%s'", k)
		}
	}
	pf, err := parsePruneFilters(rest, time.Time{})
	if err != nil {
		return volumePruneFilter{}, err
	}
	f.pruneFilter = pf
	return f, nil
}

// selectVolumesToPrune returns the volumes a volume prune removes: volumes
// of the local driver that no container (running or not) mounts, only
// anonymous ones unless all.
func selectVolumesToPrune(vols []volume.Volume, cs []container.Summary, all bool, f pruneFilter) []volume.Volume {
	used := map[string]bool{}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if m.Name != "" {
				used[m.Name] = true
			}
		}
	}
	var out []volume.Volume
	for _, v := range vols {
		if used[v.Name] || v.Driver != localVolumeDriver || !f.matchLabels(v.Labels) {
			continue
		}
		if _, anon := v.Labels[anonymousVolumeLabel]; !all && !anon {
			continue
		}
		out = append(out, v)
	}
	return out
}

// selectNetworksToPrune returns the user-defined networks that no container
// is connected to. As in the daemon, only containers with live endpoints
// (running, paused, restarting) hold a network; a created or exited one
// does not.
func selectNetworksToPrune(nets []network.Summary, cs []container.Summary, f pruneFilter) []network.Summary {
	used := map[string]bool{}
	for _, c := range cs {
		if isStopped(c.State) {
			continue
		}
		if c.NetworkSettings != nil {
			for name, ep := range c.NetworkSettings.Networks {
				used[name] = true
				if ep != nil && ep.NetworkID != "" {
					used[ep.NetworkID] = true
				}
			}
		}
		if m := c.HostConfig.NetworkMode; m != "" {
			used[m] = true
		}
	}
	var out []network.Summary
	for _, n := range nets {
		switch n.Name {
		case network.NetworkBridge, network.NetworkHost, network.NetworkNone:
			continue
		}
		if used[n.Name] || (n.ID != "" && used[n.ID]) || !f.beforeUntil(n.Created) || !f.matchLabels(n.Labels) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// remaining returns the containers of all that are not in removed.
func remaining(all, removed []container.Summary) []container.Summary {
	gone := map[string]bool{}
	for _, c := range removed {
		gone[c.ID] = true
	}
	var out []container.Summary
	for _, c := range all {
		if !gone[c.ID] {
			out = append(out, c)
		}
	}
	return out
}
