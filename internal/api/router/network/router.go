// Package network routes the network endpoints of the Docker Engine API.
package network

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/network"

	"berth/internal/api/server"
	"berth/internal/filters"
)

// Backend is what the network routes need of the network manager.
type Backend interface {
	Create(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	List(ctx context.Context, f filters.Args) ([]network.Summary, error)
	Inspect(ctx context.Context, ref string) (network.Inspect, error)
	Remove(ctx context.Context, ref string) error
	Prune(ctx context.Context, f filters.Args, dryRun bool) (network.PruneReport, error)
}

// Containers connects and disconnects containers.
type Containers interface {
	NetworkConnect(ctx context.Context, container, netRef string, es *network.EndpointSettings) error
	NetworkDisconnect(ctx context.Context, container, netRef string, force bool) error
}

// Router serves /networks.
type Router struct {
	b Backend
	c Containers
}

// New returns a router over b and c.
func New(b Backend, c Containers) *Router { return &Router{b: b, c: c} }

// Routes registers the network endpoints.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("GET /networks", rt.list)
	s.Handle("POST /networks/create", rt.create)
	s.Handle("POST /networks/prune", rt.prune)
	s.Handle("GET /networks/{id}", rt.inspect)
	s.Handle("DELETE /networks/{id}", rt.remove)
	s.Handle("POST /networks/{id}/connect", rt.connect)
	s.Handle("POST /networks/{id}/disconnect", rt.disconnect)
}

func (rt *Router) list(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	list, err := rt.b.List(r.Context(), f)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, list)
}

func (rt *Router) create(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	resp, err := rt.b.Create(r.Context(), req)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusCreated, resp)
}

func (rt *Router) inspect(w http.ResponseWriter, r *http.Request) error {
	resp, err := rt.b.Inspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) remove(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Remove(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) prune(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	rep, err := rt.b.Prune(r.Context(), f, server.BoolValue(r, "dry-run"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, rep)
}

func (rt *Router) connect(w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := rt.c.NetworkConnect(r.Context(), req.Container, r.PathValue("id"), req.EndpointConfig); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rt *Router) disconnect(w http.ResponseWriter, r *http.Request) error {
	var req network.DisconnectRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := rt.c.NetworkDisconnect(r.Context(), req.Container, r.PathValue("id"), req.Force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
