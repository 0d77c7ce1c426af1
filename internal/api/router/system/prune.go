package system

import (
	"net/http"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/network"

	"berth/internal/api/server"
)

// pruneNetworks answers `POST /networks/prune` while berth has no
// user-defined networks: there is never anything to prune. `docker system
// prune` calls it. Move it to the network router when that router exists.
func (rt *Router) pruneNetworks(w http.ResponseWriter, r *http.Request) error {
	return server.WriteJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: []string{}})
}

// pruneBuildCache answers `POST /build/prune` while berth has no build
// cache: nothing is deleted. `docker system prune` calls it. Move it to the
// build router when that router exists.
func (rt *Router) pruneBuildCache(w http.ResponseWriter, r *http.Request) error {
	return server.WriteJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: []string{}})
}
