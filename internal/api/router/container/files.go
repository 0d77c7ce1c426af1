package container

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"berth/internal/api/server"
	ctr "berth/internal/container"
)

// pathStatHeader carries the base64 JSON stat of an archive path.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// fileRoutes registers the archive, changes, export and commit endpoints.
func (rt *Router) fileRoutes(s *server.Server) {
	// GET patterns also match HEAD: archiveGet answers both.
	s.Handle("GET /containers/{id}/archive", rt.archiveGet)
	s.Handle("PUT /containers/{id}/archive", rt.archivePut)
	s.Handle("GET /containers/{id}/changes", rt.changes)
	s.Handle("GET /containers/{id}/export", rt.export)
	s.Handle("POST /commit", rt.commit)
}

func setPathStat(w http.ResponseWriter, st container.PathStat) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func (rt *Router) archiveGet(w http.ResponseWriter, r *http.Request) error {
	id, p := r.PathValue("id"), r.URL.Query().Get("path")
	if r.Method == http.MethodHead {
		st, err := rt.b.StatPath(r.Context(), id, p)
		if err != nil {
			return err
		}
		if err := setPathStat(w, st); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	written := false
	err := rt.b.ArchivePath(r.Context(), id, p, func(st container.PathStat) (io.Writer, error) {
		if err := setPathStat(w, st); err != nil {
			return nil, err
		}
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		written = true
		return w, nil
	})
	if err != nil && written {
		// The status is out: abort the stream so the client sees a
		// truncated tar rather than a valid short one.
		panic(http.ErrAbortHandler)
	}
	return err
}

func (rt *Router) archivePut(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	o := ctr.ExtractOptions{
		NoOverwriteDirNonDir: queryBool(q.Get("noOverwriteDirNonDir")),
		CopyUIDGID:           queryBool(q.Get("copyUIDGID")),
	}
	if err := rt.b.ExtractToDir(r.Context(), r.PathValue("id"), q.Get("path"), r.Body, o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// queryBool reads a boolean the way dockerd does (see server.BoolValue),
// from the URL only: a PUT body is the archive, never a form.
func queryBool(s string) bool {
	switch s {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

func (rt *Router) changes(w http.ResponseWriter, r *http.Request) error {
	ch, err := rt.b.Changes(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, ch)
}

func (rt *Router) export(w http.ResponseWriter, r *http.Request) error {
	started := false
	sw := &startWriter{w: w, start: func() {
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		started = true
	}}
	err := rt.b.Export(r.Context(), r.PathValue("id"), sw)
	if err != nil && started {
		panic(http.ErrAbortHandler)
	}
	if err == nil && !started {
		sw.start()
	}
	return err
}

// startWriter calls start before the first write, so that an error found
// before any output still gets its own status.
type startWriter struct {
	w     io.Writer
	start func()
	done  bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.done {
		s.done = true
		s.start()
	}
	return s.w.Write(p)
}

func (rt *Router) commit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var cfg *container.Config
	if err := server.DecodeJSON(r, &cfg); err != nil {
		return err
	}
	ref := q.Get("repo")
	if tag := q.Get("tag"); tag != "" {
		if ref == "" {
			return server.WithMessage(errdefs.ErrInvalidArgument, "tag is specified without a repository")
		}
		ref += ":" + tag
	}
	pause := true
	if v, ok := q["pause"]; ok && len(v) > 0 {
		pause = queryBool(v[0])
	}
	id, err := rt.b.Commit(r.Context(), q.Get("container"), ctr.CommitOptions{
		Ref: ref, Comment: q.Get("comment"), Author: q.Get("author"), Changes: q["changes"], Pause: pause, Config: cfg,
	})
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}
