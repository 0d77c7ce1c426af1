// Package image routes the image endpoints of the Docker Engine API to a
// Backend.
package image

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"berth/internal/api/server"
	"berth/internal/filters"
)

// Backend is what the image routes need.
type Backend interface {
	List(ctx context.Context, f filters.Args, all bool) ([]image.Summary, error)
	Inspect(ctx context.Context, ref string) (image.InspectResponse, error)
	History(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	Tag(ctx context.Context, source, target string) error
	Remove(ctx context.Context, ref string, force, noPrune bool) ([]image.DeleteResponse, error)
	Prune(ctx context.Context, f filters.Args, dryRun bool) (image.PruneReport, error)
	Import(ctx context.Context, r io.Reader, ref string, changes []string, message string) (string, error)
	Load(ctx context.Context, r io.Reader, progress func(string)) error
	Save(ctx context.Context, w io.Writer, refs []string) error
	// Exists reports whether every ref names a local image (checked before
	// a save starts streaming).
	Exists(ctx context.Context, refs []string) error
	// Pull fetches ref ("name:tag", "name@digest", or a bare name with
	// allTags) for platform ("" for the host's), sending progress.
	Pull(ctx context.Context, ref, platform string, allTags bool, auth registry.AuthConfig, progress func(jsonstream.Message)) error
	// Push uploads ref ("name:tag", or a bare name with allTags).
	Push(ctx context.Context, ref string, allTags bool, auth registry.AuthConfig, progress func(jsonstream.Message)) error
}

// Router serves /images.
type Router struct {
	b Backend
}

// New returns a router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes registers the image endpoints. Image names contain slashes, so
// the name-carrying paths are dispatched on their last element here.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("GET /images/json", rt.list)
	s.Handle("POST /images/create", rt.create)
	s.Handle("POST /images/load", rt.load)
	s.Handle("GET /images/get", rt.saveMany)
	s.Handle("POST /images/prune", rt.prune)
	s.Handle("GET /images/{rest...}", rt.getNamed)
	s.Handle("POST /images/{rest...}", rt.postNamed)
	s.Handle("DELETE /images/{rest...}", rt.remove)
}

func splitName(rest, suffix string) (string, bool) {
	if name, ok := strings.CutSuffix(rest, "/"+suffix); ok && name != "" {
		return name, true
	}
	return "", false
}

func (rt *Router) getNamed(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	if name, ok := splitName(rest, "json"); ok {
		resp, err := rt.b.Inspect(r.Context(), name)
		if err != nil {
			return err
		}
		return server.WriteJSON(w, http.StatusOK, resp)
	}
	if name, ok := splitName(rest, "history"); ok {
		resp, err := rt.b.History(r.Context(), name)
		if err != nil {
			return err
		}
		return server.WriteJSON(w, http.StatusOK, resp)
	}
	if name, ok := splitName(rest, "get"); ok {
		return rt.save(w, r, []string{name})
	}
	return server.WithMessage(errdefs.ErrNotFound, "page not found")
}

func (rt *Router) postNamed(w http.ResponseWriter, r *http.Request) error {
	rest := r.PathValue("rest")
	if name, ok := splitName(rest, "tag"); ok {
		target := r.FormValue("repo")
		if tag := r.FormValue("tag"); tag != "" {
			target += ":" + tag
		}
		if err := rt.b.Tag(r.Context(), name, target); err != nil {
			return err
		}
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	if name, ok := splitName(rest, "push"); ok {
		return rt.push(w, r, name)
	}
	return server.WithMessage(errdefs.ErrNotFound, "page not found")
}

func (rt *Router) list(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	if name := r.FormValue("filter"); name != "" {
		f = f.With("reference", name)
	}
	list, err := rt.b.List(r.Context(), f, server.BoolValue(r, "all"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, list)
}

// jsonStream writes Docker's JSON message stream.
type jsonStream struct {
	enc *json.Encoder
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return &jsonStream{enc: json.NewEncoder(server.FlushWriter{W: w})}
}

func (s *jsonStream) status(msg string) { _ = s.enc.Encode(map[string]string{"status": msg}) }
func (s *jsonStream) stream(msg string) { _ = s.enc.Encode(map[string]string{"stream": msg}) }
func (s *jsonStream) fail(err error) {
	_ = s.enc.Encode(map[string]any{"errorDetail": map[string]string{"message": err.Error()}, "error": err.Error()})
}

func (rt *Router) create(w http.ResponseWriter, r *http.Request) error {
	if from := r.FormValue("fromImage"); from != "" {
		return rt.pull(w, r, from)
	}
	if src := r.FormValue("fromSrc"); src != "-" {
		if src == "" {
			return server.WithMessage(errdefs.ErrInvalidArgument, "fromImage or fromSrc is required")
		}
		return server.WithMessage(errdefs.ErrNotImplemented, "importing from a URL is not supported: use '-' and send the archive")
	}
	ref := r.FormValue("repo")
	if tag := r.FormValue("tag"); tag != "" && ref != "" {
		ref += ":" + tag
	}
	_ = r.ParseForm()
	changes := r.Form["changes"]
	id, err := rt.b.Import(r.Context(), r.Body, ref, changes, r.FormValue("message"))
	if err != nil {
		return err
	}
	s := newJSONStream(w)
	s.status(id)
	return nil
}

func (rt *Router) load(w http.ResponseWriter, r *http.Request) error {
	s := newJSONStream(w)
	if err := rt.b.Load(r.Context(), r.Body, func(msg string) { s.stream(msg + "\n") }); err != nil {
		s.fail(err)
	}
	return nil
}

func (rt *Router) saveMany(w http.ResponseWriter, r *http.Request) error {
	_ = r.ParseForm()
	return rt.save(w, r, r.Form["names"])
}

func (rt *Router) save(w http.ResponseWriter, r *http.Request, refs []string) error {
	if err := rt.b.Exists(r.Context(), refs); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// Once streaming began the status is sent; a failure cuts the archive short.
	_ = rt.b.Save(r.Context(), w, refs)
	return nil
}

func (rt *Router) remove(w http.ResponseWriter, r *http.Request) error {
	resp, err := rt.b.Remove(r.Context(), r.PathValue("rest"), server.BoolValue(r, "force"), server.BoolValue(r, "noprune"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
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
