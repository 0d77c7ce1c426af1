// Package distribution routes the registry endpoints of the Docker Engine
// API (POST /auth, GET /distribution/{name}/json) to a Backend.
package distribution

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"

	"berth/internal/api/router/image"
	"berth/internal/api/server"
)

// Backend is what the registry routes need.
type Backend interface {
	// Login checks credentials against their registry; wrong ones are
	// errdefs.ErrUnauthenticated.
	Login(ctx context.Context, auth registry.AuthConfig) (registry.AuthResponse, error)
	// Inspect resolves ref on its registry.
	Inspect(ctx context.Context, ref string, auth registry.AuthConfig) (registry.DistributionInspect, error)
}

// Router serves /auth and /distribution.
type Router struct{ b Backend }

// New returns a router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes registers the endpoints.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("POST /auth", rt.login)
	s.Handle("GET /distribution/{rest...}", rt.inspect)
}

func (rt *Router) login(w http.ResponseWriter, r *http.Request) error {
	var auth registry.AuthConfig
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&auth); err != nil {
		return server.WithMessage(errdefs.ErrInvalidArgument, "invalid auth configuration: "+err.Error())
	}
	resp, err := rt.b.Login(r.Context(), auth)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) inspect(w http.ResponseWriter, r *http.Request) error {
	name, ok := strings.CutSuffix(r.PathValue("rest"), "/json")
	if !ok || name == "" {
		return server.WithMessage(errdefs.ErrNotFound, "page not found")
	}
	auth, err := image.AuthFromHeader(r.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	resp, err := rt.b.Inspect(r.Context(), name, auth)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}
