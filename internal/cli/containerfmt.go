package cli

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Default list formats of `ps`, as Docker prints them.
const (
	defaultContainerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	containerSizeColumn   = "\t{{.Size}}"
)

// containerContext renders one container.Summary for `ps` (the fields of
// docker/cli's formatter.ContainerContext).
type containerContext struct {
	c     container.Summary
	trunc bool
	now   time.Time
	hdr   bool
}

var _ formatter = containerContext{}

func (x containerContext) header() any { x.hdr = true; return x }

func (containerContext) fields() []string {
	return []string{"Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
		"Names", "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status"}
}

// platformField is the platform of a container's image; it prints as
// os/arch[/variant] and encodes as the OCI platform object.
type platformField struct {
	ocispec.Platform
}

// String formats the platform as os/arch[/variant].
func (p platformField) String() string {
	parts := []string{p.OS, p.Architecture}
	if p.Variant != "" {
		parts = append(parts, p.Variant)
	}
	return strings.Join(parts, "/")
}

// Platform is the platform of the image manifest the container runs (a
// *platformField), nil when the daemon does not say.
func (x containerContext) Platform() any {
	if x.hdr {
		return "PLATFORM"
	}
	d := x.c.ImageManifestDescriptor
	if d == nil || d.Platform == nil {
		return (*platformField)(nil)
	}
	return &platformField{*d.Platform}
}

// ID is the container ID, 12 characters unless --no-trunc.
func (x containerContext) ID() string {
	if x.hdr {
		return "CONTAINER ID"
	}
	if x.trunc {
		return truncateID(x.c.ID)
	}
	return x.c.ID
}

// Names joins the container's names without their leading slash.
func (x containerContext) Names() string {
	if x.hdr {
		return "NAMES"
	}
	names := stripNamePrefix(x.c.Names)
	if x.trunc {
		for _, n := range names {
			if !strings.Contains(n, "/") {
				names = []string{n}
				break
			}
		}
	}
	return strings.Join(names, ",")
}

// Image is the image the container was created from, in familiar form.
func (x containerContext) Image() string {
	if x.hdr {
		return "IMAGE"
	}
	if x.c.Image == "" {
		return "<no image>"
	}
	if x.trunc {
		if t := truncateID(x.c.ImageID); t == truncateID(x.c.Image) {
			return t
		}
		if ref, err := reference.ParseNormalizedNamed(x.c.Image); err == nil {
			if nt, ok := ref.(reference.NamedTagged); ok {
				if tagged, err := reference.WithTag(reference.TrimNamed(nt), nt.Tag()); err == nil {
					return reference.FamiliarString(tagged)
				}
			} else {
				return reference.FamiliarString(reference.TrimNamed(ref))
			}
		}
	}
	return x.c.Image
}

// Command is the quoted command, cut to 20 characters unless --no-trunc.
func (x containerContext) Command() string {
	if x.hdr {
		return "COMMAND"
	}
	cmd := x.c.Command
	if x.trunc {
		cmd = ellipsis(cmd, 20)
	}
	return strconv.Quote(cmd)
}

// CreatedAt is the creation time as Go prints a time.
func (x containerContext) CreatedAt() string {
	if x.hdr {
		return "CREATED AT"
	}
	return time.Unix(x.c.Created, 0).String()
}

// RunningFor is the time since creation, e.g. "2 minutes ago".
func (x containerContext) RunningFor() string {
	if x.hdr {
		return "CREATED"
	}
	return humanSince(x.now, x.c.Created)
}

// Ports lists published and exposed ports, ranges grouped.
func (x containerContext) Ports() string {
	if x.hdr {
		return "PORTS"
	}
	return displayablePorts(x.c.Ports)
}

// State is the state word (running, exited…).
func (x containerContext) State() string {
	if x.hdr {
		return "STATE"
	}
	return string(x.c.State)
}

// Status is the daemon's status text, e.g. "Up 3 seconds".
func (x containerContext) Status() string {
	if x.hdr {
		return "STATUS"
	}
	return x.c.Status
}

// Size is the writable layer size, with the virtual size when known.
func (x containerContext) Size() string {
	if x.hdr {
		return "SIZE"
	}
	srw := units.HumanSizeWithPrecision(float64(x.c.SizeRw), 3)
	if x.c.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", srw, units.HumanSizeWithPrecision(float64(x.c.SizeRootFs), 3))
	}
	return srw
}

// Labels joins all labels as k=v, sorted by key.
func (x containerContext) Labels() string {
	if x.hdr {
		return "LABELS"
	}
	return joinLabels(x.c.Labels)
}

// Label returns the value of one label.
func (x containerContext) Label(name string) string {
	if x.hdr {
		return labelHeader(name)
	}
	return x.c.Labels[name]
}

// Mounts lists mount names (or sources), cut to 15 characters unless --no-trunc.
func (x containerContext) Mounts() string {
	if x.hdr {
		return "MOUNTS"
	}
	var out []string
	for _, m := range x.c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if x.trunc {
			name = ellipsis(name, 15)
		}
		out = append(out, name)
	}
	return strings.Join(out, ",")
}

// LocalVolumes counts the container's volumes of the local driver.
func (x containerContext) LocalVolumes() string {
	if x.hdr {
		return "LOCAL VOLUMES"
	}
	n := 0
	for _, m := range x.c.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

// Networks lists the names of the container's networks, sorted.
func (x containerContext) Networks() string {
	if x.hdr {
		return "NETWORKS"
	}
	if x.c.NetworkSettings == nil {
		return ""
	}
	var names []string
	for k := range x.c.NetworkSettings.Networks {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func labelHeader(name string) string {
	parts := strings.Split(name, ".")
	return strings.ToUpper(strings.NewReplacer("-", " ", "_", " ").Replace(parts[len(parts)-1]))
}

func joinLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+labels[k])
	}
	return strings.Join(out, ",")
}

func stripNamePrefix(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.TrimPrefix(n, "/")
	}
	return out
}

// humanSince renders the time from unix seconds created to now as Docker
// does: "2 minutes ago".
func humanSince(now time.Time, created int64) string {
	if created <= 0 {
		return "N/A"
	}
	return units.HumanDuration(now.Sub(time.Unix(created, 0))) + " ago"
}

// displayablePorts renders a container's ports like `docker ps`: consecutive
// ports sharing an address and protocol are grouped into ranges, and mappings
// to a different host port are listed after them.
func displayablePorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	sorted := append([]container.PortSummary(nil), ports...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.IP != b.IP {
			return a.IP.Less(b.IP)
		}
		if a.PublicPort != b.PublicPort {
			return a.PublicPort < b.PublicPort
		}
		return a.Type < b.Type
	})
	groups := map[string]*group{}
	var keys, result, hostMappings []string
	for _, p := range sorted {
		cur := p.PrivatePort
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != cur {
				hp := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				hostMappings = append(hostMappings, fmt.Sprintf("%s->%d/%s", hp, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{cur, cur}
			keys = append(keys, key)
			continue
		}
		if cur == g.last+1 {
			g.last = cur
			continue
		}
		result = append(result, formPortGroup(key, g.first, g.last))
		groups[key] = &group{cur, cur}
	}
	for _, k := range keys {
		g := groups[k]
		result = append(result, formPortGroup(k, g.first, g.last))
	}
	result = append(result, hostMappings...)
	return strings.Join(result, ", ")
}

func formPortGroup(key string, first, last uint16) string {
	ip, proto := "", key
	if i := strings.LastIndex(key, "/"); i >= 0 {
		ip, proto = key[:i], key[i+1:]
	}
	g := strconv.Itoa(int(first))
	if first != last {
		g = fmt.Sprintf("%s-%d", g, last)
	}
	if ip != "" {
		g = fmt.Sprintf("%s:%s->%s", ip, g, g)
	}
	return g + "/" + proto
}
