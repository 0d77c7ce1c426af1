// Package system routes the system endpoints of the Docker Engine API:
// ping, version, info, events and disk usage, plus empty network and
// build-cache prunes until those components exist.
package system

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"berth/internal/api/server"
	bus "berth/internal/events"
	"berth/internal/filters"
)

// DiskUsage is the data behind `GET /system/df`.
type DiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
}

// Backend is what the system routes need.
type Backend interface {
	Info(ctx context.Context) (system.Info, error)
	Version(ctx context.Context) system.VersionResponse
	SubscribeEvents(ctx context.Context, since, until time.Time, f filters.Args) (<-chan events.Message, error)
	DiskUsage(ctx context.Context) (DiskUsage, error)
}

// Router serves the system endpoints.
type Router struct {
	b Backend
}

// New returns a router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes registers the system endpoints.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("GET /_ping", rt.ping)
	s.Handle("HEAD /_ping", rt.ping)
	s.Handle("GET /version", rt.version)
	s.Handle("GET /info", rt.info)
	s.Handle("GET /events", rt.events)
	s.Handle("GET /system/df", rt.df)
	s.Handle("POST /build/prune", rt.pruneBuildCache)
}

func (rt *Router) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", "0")
		return nil
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

func (rt *Router) version(w http.ResponseWriter, r *http.Request) error {
	return server.WriteJSON(w, http.StatusOK, rt.b.Version(r.Context()))
}

func (rt *Router) info(w http.ResponseWriter, r *http.Request) error {
	info, err := rt.b.Info(r.Context())
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, info)
}

func (rt *Router) events(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	now := time.Now()
	var since, until time.Time
	if s := r.FormValue("since"); s != "" {
		if since, err = filters.ParseTime(s, now); err != nil {
			return err
		}
	}
	if s := r.FormValue("until"); s != "" {
		if until, err = filters.ParseTime(s, now); err != nil {
			return err
		}
	}
	ch, err := rt.b.SubscribeEvents(r.Context(), since, until, f)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fw := server.FlushWriter{W: w}
	_, _ = fw.Write(nil)
	enc := json.NewEncoder(fw)
	legacy := server.VersionLess(server.Version(r), "1.52")
	for msg := range ch {
		var v any = msg
		if legacy {
			// Before API 1.52 events also carried status, id and from.
			v = bus.Legacy(msg)
		}
		if err := enc.Encode(v); err != nil {
			return nil
		}
	}
	return nil
}

// legacyDiskUsage is the /system/df body before API 1.52, which the
// docker CLI 28 reads; newer versions add the *Usage summaries.
type legacyDiskUsage struct {
	LayersSize      int64
	Images          []image.Summary
	Containers      []container.Summary
	Volumes         []*volume.Volume
	BuildCache      []*build.CacheRecord
	ImageUsage      *image.DiskUsage     `json:"ImageUsage,omitempty"`
	ContainerUsage  *container.DiskUsage `json:"ContainerUsage,omitempty"`
	VolumeUsage     *volume.DiskUsage    `json:"VolumeUsage,omitempty"`
	BuildCacheUsage *build.DiskUsage     `json:"BuildCacheUsage,omitempty"`
}

func (rt *Router) df(w http.ResponseWriter, r *http.Request) error {
	du, err := rt.b.DiskUsage(r.Context())
	if err != nil {
		return err
	}
	out := legacyDiskUsage{LayersSize: du.LayersSize, Images: du.Images, Containers: du.Containers, Volumes: []*volume.Volume{}, BuildCache: []*build.CacheRecord{}}
	vu := &volume.DiskUsage{TotalCount: int64(len(du.Volumes))}
	for i := range du.Volumes {
		v := &du.Volumes[i]
		out.Volumes = append(out.Volumes, v)
		vu.Items = append(vu.Items, *v)
		if v.UsageData != nil {
			vu.TotalSize += v.UsageData.Size
			if v.UsageData.RefCount > 0 {
				vu.ActiveCount++
			} else {
				vu.Reclaimable += v.UsageData.Size
			}
		}
	}
	if !server.VersionLess(server.Version(r), "1.52") {
		iu := &image.DiskUsage{TotalCount: int64(len(du.Images)), TotalSize: du.LayersSize, Items: du.Images}
		for _, i := range du.Images {
			if i.Containers > 0 {
				iu.ActiveCount++
			} else {
				iu.Reclaimable += i.Size - i.SharedSize
			}
		}
		cu := &container.DiskUsage{TotalCount: int64(len(du.Containers)), Items: du.Containers}
		for _, c := range du.Containers {
			cu.TotalSize += c.SizeRw
			if c.State == container.StateRunning {
				cu.ActiveCount++
			} else {
				cu.Reclaimable += c.SizeRw
			}
		}
		out.ImageUsage, out.ContainerUsage = iu, cu
		out.VolumeUsage, out.BuildCacheUsage = vu, &build.DiskUsage{}
	}
	return server.WriteJSON(w, http.StatusOK, out)
}
