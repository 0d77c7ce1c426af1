package container

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"
	"github.com/moby/moby/api/types/container"

	"berth/internal/api/server"
	ctr "berth/internal/container"
	"berth/internal/filters"
	"berth/internal/logger/logmsg"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Router serves /containers and /exec.
type Router struct {
	b Backend
}

// New returns a router over b.
func New(b Backend) *Router { return &Router{b: b} }

// Routes registers the container endpoints.
func (rt *Router) Routes(s *server.Server) {
	s.Handle("POST /containers/create", rt.create)
	s.Handle("GET /containers/json", rt.list)
	s.Handle("GET /containers/{id}/json", rt.inspect)
	s.Handle("POST /containers/{id}/start", rt.start)
	s.Handle("POST /containers/{id}/stop", rt.stop)
	s.Handle("POST /containers/{id}/restart", rt.restart)
	s.Handle("POST /containers/{id}/kill", rt.kill)
	s.Handle("DELETE /containers/{id}", rt.remove)
	s.Handle("POST /containers/{id}/wait", rt.wait)
	s.Handle("POST /containers/{id}/rename", rt.rename)
	s.Handle("POST /containers/{id}/pause", rt.pause)
	s.Handle("POST /containers/{id}/unpause", rt.unpause)
	s.Handle("GET /containers/{id}/top", rt.top)
	s.Handle("POST /containers/{id}/resize", rt.resize)
	s.Handle("POST /containers/{id}/attach", rt.attach)
	s.Handle("GET /containers/{id}/logs", rt.logs)
	s.Handle("POST /containers/prune", rt.prune)
	s.Handle("GET /containers/{id}/stats", rt.stats)
	s.Handle("POST /containers/{id}/update", rt.update)
	s.Handle("POST /containers/{id}/exec", rt.execCreate)
	s.Handle("POST /exec/{id}/start", rt.execStart)
	s.Handle("POST /exec/{id}/resize", rt.execResize)
	s.Handle("GET /exec/{id}/json", rt.execInspect)
	rt.fileRoutes(s)
}

func (rt *Router) create(w http.ResponseWriter, r *http.Request) error {
	var req container.CreateRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Config == nil {
		return server.WithMessage(errdefs.ErrInvalidArgument, "config cannot be empty in order to create a container")
	}
	o := ctr.CreateOptions{Name: r.FormValue("name"), Config: req.Config, HostConfig: req.HostConfig}
	if req.NetworkingConfig != nil {
		o.Endpoints = req.NetworkingConfig.EndpointsConfig
	}
	res, err := rt.b.Create(r.Context(), o)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: res.ID, Warnings: res.Warnings})
}

func (rt *Router) list(w http.ResponseWriter, r *http.Request) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	limit, err := server.IntValue(r, "limit", 0)
	if err != nil {
		return err
	}
	if server.BoolValue(r, "latest") {
		limit = 1
	}
	list, err := rt.b.List(r.Context(), ctr.ListOptions{All: server.BoolValue(r, "all"), Limit: limit, Size: server.BoolValue(r, "size"), Filters: f})
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, list)
}

func (rt *Router) inspect(w http.ResponseWriter, r *http.Request) error {
	resp, err := rt.b.Inspect(r.Context(), r.PathValue("id"), server.BoolValue(r, "size"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}

func (rt *Router) start(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Start(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func stopOptions(r *http.Request) (ctr.StopOptions, error) {
	o := ctr.StopOptions{Signal: r.FormValue("signal")}
	if t := r.FormValue("t"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return o, server.WithMessage(errdefs.ErrInvalidArgument, "invalid value for t: "+t)
		}
		o.Timeout = &n
	}
	return o, nil
}

func (rt *Router) stop(w http.ResponseWriter, r *http.Request) error {
	o, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := rt.b.Stop(r.Context(), r.PathValue("id"), o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) restart(w http.ResponseWriter, r *http.Request) error {
	o, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := rt.b.Restart(r.Context(), r.PathValue("id"), o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) kill(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Kill(r.Context(), r.PathValue("id"), r.FormValue("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) remove(w http.ResponseWriter, r *http.Request) error {
	if server.BoolValue(r, "link") {
		return server.WithMessage(errdefs.ErrNotImplemented, "legacy links are not supported")
	}
	if err := rt.b.Remove(r.Context(), r.PathValue("id"), ctr.RemoveOptions{Force: server.BoolValue(r, "force"), Volumes: server.BoolValue(r, "v")}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) wait(w http.ResponseWriter, r *http.Request) error {
	// Register before the headers go out: a missing container or a bad
	// condition is an error status, and the client may start the container
	// as soon as it has the headers.
	waiter, err := rt.b.Waiter(r.PathValue("id"), ctr.WaitCondition(r.FormValue("condition")))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	code, msg, err := waiter(r.Context())
	if err != nil {
		msg = err.Error()
	}
	return writeJSONBody(w, waitResponse(code, msg))
}

func (rt *Router) rename(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Rename(r.Context(), r.PathValue("id"), r.FormValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) pause(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Pause(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) unpause(w http.ResponseWriter, r *http.Request) error {
	if err := rt.b.Unpause(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (rt *Router) top(w http.ResponseWriter, r *http.Request) error {
	resp, err := rt.b.Top(r.Context(), r.PathValue("id"), r.FormValue("ps_args"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}

func sizeArgs(r *http.Request) (uint16, uint16, error) {
	h, err := strconv.ParseUint(r.FormValue("h"), 10, 16)
	if err != nil {
		return 0, 0, server.WithMessage(errdefs.ErrInvalidArgument, "invalid resize height: "+r.FormValue("h"))
	}
	wd, err := strconv.ParseUint(r.FormValue("w"), 10, 16)
	if err != nil {
		return 0, 0, server.WithMessage(errdefs.ErrInvalidArgument, "invalid resize width: "+r.FormValue("w"))
	}
	return uint16(h), uint16(wd), nil
}

func (rt *Router) resize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := sizeArgs(r)
	if err != nil {
		return err
	}
	return rt.b.Resize(r.Context(), r.PathValue("id"), h, wd)
}

func (rt *Router) attach(w http.ResponseWriter, r *http.Request) error {
	keys, err := parseDetachKeys(r.FormValue("detachKeys"))
	if err != nil {
		return err
	}
	o := ctr.AttachOptions{Stdin: server.BoolValue(r, "stdin"), Stdout: server.BoolValue(r, "stdout"), Stderr: server.BoolValue(r, "stderr")}
	a, err := rt.b.Attach(r.Context(), r.PathValue("id"), o)
	if err != nil {
		return err
	}
	conn, brw, err := server.Hijack(w, r, contentType(a.Tty, server.Version(r), server.VersionLess))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	// The client closing its connection cancels a pending attach.
	att, err := a.Connect(ctx)
	if err != nil {
		return nil
	}
	pump(conn, brw.Reader, att, a.Tty, o.Stdin, keys)
	return nil
}

func parseUnixTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return filters.ParseTime(s, time.Now())
}

func (rt *Router) logs(w http.ResponseWriter, r *http.Request) error {
	stdout, stderr := server.BoolValue(r, "stdout"), server.BoolValue(r, "stderr")
	if !stdout && !stderr {
		return server.WithMessage(errdefs.ErrInvalidArgument, "Bad parameters: you must choose at least one stream")
	}
	since, err := parseUnixTime(r.FormValue("since"))
	if err != nil {
		return err
	}
	until, err := parseUnixTime(r.FormValue("until"))
	if err != nil {
		return err
	}
	tail := -1
	if t := r.FormValue("tail"); t != "" && t != "all" {
		n, err := strconv.Atoi(t)
		if err == nil && n >= 0 {
			tail = n
		}
	}
	l, err := rt.b.Logs(r.Context(), r.PathValue("id"), ctr.LogsOptions{
		Stdout: stdout, Stderr: stderr, Follow: server.BoolValue(r, "follow"), Since: since, Until: until, Tail: tail,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType(l.Tty, server.Version(r), server.VersionLess))
	w.WriteHeader(http.StatusOK)
	fw := server.FlushWriter{W: w}
	fw.Write(nil)
	timestamps := server.BoolValue(r, "timestamps")
	var hdr [8]byte
	return l.Read(r.Context(), func(m *logmsg.Message) error {
		line := m.Line
		if timestamps {
			line = append([]byte(m.Timestamp.UTC().Format("2006-01-02T15:04:05.000000000Z07:00")+" "), line...)
		}
		if l.Tty {
			_, err := fw.Write(line)
			return err
		}
		hdr[0] = 1
		if m.Source == "stderr" {
			hdr[0] = 2
		}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(line)))
		_, err := fw.Write(append(hdr[:], line...))
		return err
	})
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

func (rt *Router) execCreate(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	id, err := rt.b.ExecCreate(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusCreated, common.IDResponse{ID: id})
}

func (rt *Router) execStart(w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if err := server.DecodeJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	info, err := rt.b.ExecInspect(r.Context(), id)
	if err != nil {
		return err
	}
	o := ctr.ExecStartOptions{Detach: req.Detach, ConsoleSize: req.ConsoleSize}
	if req.Detach {
		if _, err := rt.b.ExecStart(r.Context(), id, o); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	tty := info.ProcessConfig != nil && info.ProcessConfig.Tty
	conn, brw, err := server.Hijack(w, r, contentType(tty, server.Version(r), server.VersionLess))
	if err != nil {
		return err
	}
	defer conn.Close()
	att, err := rt.b.ExecStart(context.WithoutCancel(r.Context()), id, o)
	if err != nil {
		// The stream is already open: Docker writes the error into it.
		msg := []byte(err.Error() + "\r\n")
		if !tty {
			var hdr [8]byte
			hdr[0] = 1
			binary.BigEndian.PutUint32(hdr[4:], uint32(len(msg)))
			msg = append(hdr[:], msg...)
		}
		_, _ = conn.Write(msg)
		return nil
	}
	keys, _ := parseDetachKeys("")
	pump(conn, brw.Reader, att, tty, info.OpenStdin, keys)
	return nil
}

func (rt *Router) execResize(w http.ResponseWriter, r *http.Request) error {
	h, wd, err := sizeArgs(r)
	if err != nil {
		return err
	}
	return rt.b.ExecResize(r.Context(), r.PathValue("id"), h, wd)
}

func (rt *Router) execInspect(w http.ResponseWriter, r *http.Request) error {
	resp, err := rt.b.ExecInspect(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, resp)
}

func writeJSONBody(w http.ResponseWriter, v any) error {
	b, err := jsonMarshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func (rt *Router) stats(w http.ResponseWriter, r *http.Request) error {
	stream := r.FormValue("stream") == "" || server.BoolValue(r, "stream")
	if server.BoolValue(r, "one-shot") {
		stream = false
	}
	started := false
	fw := server.FlushWriter{W: w}
	return rt.b.Stats(r.Context(), r.PathValue("id"), stream, func(s container.StatsResponse) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		b, err := jsonMarshal(s)
		if err != nil {
			return err
		}
		_, err = fw.Write(append(b, '\n'))
		return err
	})
}

func (rt *Router) update(w http.ResponseWriter, r *http.Request) error {
	var u container.UpdateConfig
	if err := server.DecodeJSON(r, &u); err != nil {
		return err
	}
	warnings, err := rt.b.Update(r.Context(), r.PathValue("id"), u)
	if err != nil {
		return err
	}
	return server.WriteJSON(w, http.StatusOK, container.UpdateResponse{Warnings: warnings})
}
