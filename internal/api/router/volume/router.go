// Package volume routes the volume endpoints of the Docker Engine API to a
// Backend.
package volume

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"

	"berth/internal/api/server"
	"berth/internal/filters"
)

// Backend is what the volume routes need.
type Backend interface {
	Create(ctx context.Context, name, driver string, opts, labels map[string]string) (volume.Volume, error)
	Get(ctx context.Context, name string) (volume.Volume, error)
	List(ctx context.Context, f filters.Args) ([]volume.Volume, []string, error)
	Remove(ctx context.Context, name string, force bool) error
	Prune(ctx context.Context, f filters.Args, all, dryRun bool) (volume.PruneReport, error)
}

// Publisher receives volume events.
type Publisher interface {
	Publish(typ events.Type, action events.Action, actor events.Actor)
}

// Router serves /volumes.
type Router struct {
	b   Backend
	pub Publisher
}

// New returns a router over b, publishing Docker's volume events to pub.
func New(b Backend, pub Publisher) *Router { return &Router{b: b, pub: pub} }

// Routes registers the volume endpoints.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("GET /volumes", rt.list)
	s.Handle("POST /volumes/create", rt.create)
	s.Handle("POST /volumes/prune", rt.prune)
	s.Handle("GET /volumes/{name}", rt.inspect)
	s.Handle("DELETE /volumes/{name}", rt.remove)
}

func (rt *Router) event(action events.Action, v volume.Volume) {
	if rt.pub != nil {
		rt.pub.Publish(events.VolumeEventType, action, events.Actor{ID: v.Name, Attributes: map[string]string{"driver": v.Driver}})
	}
}

func (rt *Router) list(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	vols, warnings, err := rt.b.List(r.Context(), f)
	if err != nil {
		return err
	}
	if vols == nil {
		vols = []volume.Volume{}
	}
	if warnings == nil {
		warnings = []string{}
	}
	return server.WriteJSON(w, http.StatusOK, volume.ListResponse{Volumes: vols, Warnings: warnings})
}

func (rt *Router) create(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	v, err := rt.b.Create(r.Context(), req.Name, req.Driver, req.DriverOpts, req.Labels)
	if err != nil {
		return err
	}
	rt.event(events.ActionCreate, v)
	return server.WriteJSON(w, http.StatusCreated, v)
}

func (rt *Router) inspect(w http.ResponseWriter, r *http.Request) error {
	v, err := rt.b.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, v)
}

func (rt *Router) remove(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	v, _ := rt.b.Get(r.Context(), name)
	if err := rt.b.Remove(r.Context(), name, server.BoolValue(r, "force")); err != nil {
		return err
	}
	if v.Name != "" {
		rt.event(events.ActionDestroy, v)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) prune(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	// The store reads the "all" filter itself (Docker 23+: anonymous
	// volumes only, unless all=true).
	rep, err := rt.b.Prune(r.Context(), f, false, server.BoolValue(r, "dry-run"))
	if err != nil {
		return err
	}
	if rep.VolumesDeleted == nil {
		rep.VolumesDeleted = []string{}
	}
	return server.WriteJSON(w, http.StatusOK, rep)
}
