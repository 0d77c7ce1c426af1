// Package server is the HTTP side of the Docker Engine API: the listener,
// the router with /vX.Y version negotiation, the access log, the mapping of
// error classes to status codes, and hijacked streams for attach and exec.
// Routers (api/router/*) register handlers that return errors; only this
// package writes error responses.
package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/common"

	"berth/internal/log"
)

// API versions served: the oldest still accepted and the newest the types
// module describes.
const (
	MinAPIVersion = "1.40"
	MaxAPIVersion = "1.56"
)

// HandlerFunc is an API handler: it writes a response, or returns an error
// that the server turns into Docker's JSON error body and status.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Router adds its routes to a Server.
type Router interface {
	Routes(s *Server)
}

// Server routes Docker Engine API requests.
type Server struct {
	mux     *http.ServeMux
	ctx     context.Context
	version string
	os      string
}

// New returns a server whose handlers run with ctx's logger.
func New(ctx context.Context, engineVersion string) *Server {
	return &Server{mux: http.NewServeMux(), ctx: ctx, version: engineVersion, os: "linux"}
}

// Handle registers h for pattern ("METHOD /path/{var}").
func (s *Server) Handle(pattern string, h HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(r.Context(), w, err)
		}
	})
}

var versionPrefix = regexp.MustCompile(`^/v([0-9]+\.[0-9]+)(/.*)$`)

type versionKey struct{}

// Version returns the API version of the request (the negotiated maximum
// when the path had no /vX.Y prefix).
func Version(r *http.Request) string {
	if v, ok := r.Context().Value(versionKey{}).(string); ok {
		return v
	}
	return MaxAPIVersion
}

// VersionLess reports whether API version a is older than b.
func VersionLess(a, b string) bool {
	pa, pb := strings.SplitN(a, ".", 2), strings.SplitN(b, ".", 2)
	for i := 0; i < 2; i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// ServeHTTP strips and checks the version prefix, logs the request, and
// dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx := log.WithLogger(r.Context(), log.From(s.ctx))
	version := MaxAPIVersion
	if m := versionPrefix.FindStringSubmatch(r.URL.Path); m != nil {
		version = m[1]
		r.URL.Path = m[2]
		r.URL.RawPath = ""
	}
	w.Header().Set("Api-Version", MaxAPIVersion)
	w.Header().Set("Server", "Docker/"+s.version+" (linux)")
	w.Header().Set("Docker-Experimental", "false")
	w.Header().Set("Ostype", s.os)
	r = r.WithContext(context.WithValue(ctx, versionKey{}, version))
	if VersionLess(MaxAPIVersion, version) {
		WriteError(ctx, w, WithMessage(errdefs.ErrInvalidArgument,
			fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", version, MaxAPIVersion)))
		return
	}
	if VersionLess(version, MinAPIVersion) {
		WriteError(ctx, w, WithMessage(errdefs.ErrInvalidArgument,
			fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, MinAPIVersion)))
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// dockerd answers unknown routes (and methods) with a JSON 404.
		WriteError(ctx, w, WithMessage(errdefs.ErrNotFound, "page not found"))
	} else {
		s.mux.ServeHTTP(w, r)
	}
	log.From(ctx).Debug("api", "method", r.Method, "path", r.URL.Path, "version", version, "duration", time.Since(start))
}

// WriteError writes Docker's error body with the status of err's class.
func WriteError(ctx context.Context, w http.ResponseWriter, err error) {
	status := StatusFor(err)
	if status >= 500 {
		log.From(ctx).Warn("api error", "err", err)
	}
	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	WriteJSON(w, status, common.ErrorResponse{Message: err.Error()})
}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON request body into v. An empty body leaves v as
// it is; a malformed one is an invalid argument.
func DecodeJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return WithMessage(errdefs.ErrInvalidArgument, "invalid JSON: "+err.Error())
	}
	return nil
}

// BoolValue reads a boolean query parameter the way dockerd does: "", "0",
// "no", "false" and "none" are false, anything else true.
func BoolValue(r *http.Request, k string) bool {
	s := strings.ToLower(strings.TrimSpace(r.FormValue(k)))
	return !(s == "" || s == "0" || s == "no" || s == "false" || s == "none")
}

// IntValue reads an integer query parameter, def when absent.
func IntValue(r *http.Request, k string, def int) (int, error) {
	s := r.FormValue(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, WithMessage(errdefs.ErrInvalidArgument, fmt.Sprintf("invalid value for %s: %q", k, s))
	}
	return n, nil
}

// Hijack takes over the connection for a raw stream, answering
// "101 UPGRADED" when the client asked for an upgrade and 200 otherwise,
// with contentType. The caller owns and must close the returned conn.
func Hijack(w http.ResponseWriter, r *http.Request, contentType string) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("hijack: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	upgrade := strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") || r.Header.Get("Upgrade") != ""
	if upgrade {
		fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: %s\r\n\r\n", contentType, MaxAPIVersion)
	} else {
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nApi-Version: %s\r\n\r\n", contentType, MaxAPIVersion)
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// FlushWriter flushes after every write, for streamed responses.
type FlushWriter struct {
	W http.ResponseWriter
}

// Write writes p and flushes it to the client.
func (f FlushWriter) Write(p []byte) (int, error) {
	n, err := f.W.Write(p)
	if fl, ok := f.W.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

// Listen opens a unix socket listener at path with mode 0660, replacing a
// stale socket left by a dead daemon but refusing one a live daemon serves.
func Listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("socket %s: another daemon is listening: %w", path, errdefs.ErrConflict)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Serve serves the API on l until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s, BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
