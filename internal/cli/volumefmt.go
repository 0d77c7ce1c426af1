package cli

import (
	"sort"
	"strconv"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
)

// Default list formats of `volume ls`, as Docker prints them.
const (
	defaultVolumeTable = "table {{.Driver}}\t{{.Name}}"
	volumeQuietFormat  = "{{.Name}}"
)

// volumeContext renders one volume for `volume ls` (the fields of
// docker/cli's formatter.volumeContext).
type volumeContext struct {
	v   volume.Volume
	hdr bool
}

var _ formatter = volumeContext{}

func (x volumeContext) header() any { x.hdr = true; return x }

func (volumeContext) fields() []string {
	return []string{"Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size", "Status"}
}

// Name is the volume name.
func (x volumeContext) Name() string {
	if x.hdr {
		return "VOLUME NAME"
	}
	return x.v.Name
}

// Driver is the volume driver.
func (x volumeContext) Driver() string {
	if x.hdr {
		return "DRIVER"
	}
	return x.v.Driver
}

// Scope is local or global.
func (x volumeContext) Scope() string {
	if x.hdr {
		return "SCOPE"
	}
	return x.v.Scope
}

// Mountpoint is the volume's path on the host.
func (x volumeContext) Mountpoint() string {
	if x.hdr {
		return "MOUNTPOINT"
	}
	return x.v.Mountpoint
}

// Labels joins all labels as k=v, sorted by key.
func (x volumeContext) Labels() string {
	if x.hdr {
		return "LABELS"
	}
	return joinLabels(x.v.Labels)
}

// Label returns the value of one label.
func (x volumeContext) Label(name string) string {
	if x.hdr {
		return labelHeader(name)
	}
	return x.v.Labels[name]
}

// Links is the number of containers using the volume, N/A when the daemon
// did not count.
func (x volumeContext) Links() string {
	if x.hdr {
		return "LINKS"
	}
	if x.v.UsageData == nil {
		return "N/A"
	}
	return strconv.FormatInt(x.v.UsageData.RefCount, 10)
}

// Size is the disk space the volume uses, N/A when unknown.
func (x volumeContext) Size() string {
	if x.hdr {
		return "SIZE"
	}
	if x.v.UsageData == nil {
		return "N/A"
	}
	return units.HumanSize(float64(x.v.UsageData.Size))
}

// Group is the cluster volume group; N/A for local volumes.
func (x volumeContext) Group() string {
	if x.hdr {
		return "GROUP"
	}
	if x.v.ClusterVolume == nil {
		return "N/A"
	}
	return x.v.ClusterVolume.Spec.Group
}

// Availability is the cluster volume availability; N/A for local volumes.
func (x volumeContext) Availability() string {
	if x.hdr {
		return "AVAILABILITY"
	}
	if x.v.ClusterVolume == nil {
		return "N/A"
	}
	return string(x.v.ClusterVolume.Spec.Availability)
}

// Status is the cluster volume status; N/A for local volumes.
func (x volumeContext) Status() string {
	if x.hdr {
		return "STATUS"
	}
	cv := x.v.ClusterVolume
	if cv == nil {
		return "N/A"
	}
	if cv.Info == nil || cv.Info.VolumeID == "" {
		return "pending creation"
	}
	switch n := len(cv.PublishStatus); n {
	case 0:
		return "created"
	case 1:
		return "in use (1 node)"
	default:
		return "in use (" + strconv.Itoa(n) + " nodes)"
	}
}

// volumeRows sorts volumes by name, naturally, and wraps them for writeList.
func volumeRows(vols []volume.Volume) []volumeContext {
	sorted := append([]volume.Volume(nil), vols...)
	sort.SliceStable(sorted, func(i, j int) bool { return naturalLess(sorted[i].Name, sorted[j].Name) })
	rows := make([]volumeContext, len(sorted))
	for i, v := range sorted {
		rows[i] = volumeContext{v: v}
	}
	return rows
}
