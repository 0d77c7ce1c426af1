package system

import (
	"net/http"

	"github.com/moby/moby/api/types/build"

	"berth/internal/api/server"
)

// pruneBuildCache answers `POST /build/prune` while berth has no build
// cache: nothing is deleted. `docker system prune` calls it. Move it to the
// build router when that router exists.
func (rt *Router) pruneBuildCache(w http.ResponseWriter, r *http.Request) error {
	return server.WriteJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: []string{}})
}
