package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"berth/internal/log"
)

// Config is the configuration of a registry Server.
type Config struct {
	// Addr is the HOST:PORT to listen on.
	Addr string
	// Root is the storage directory; it is created if missing.
	Root string
	// TLSCert and TLSKey are PEM files; both set means HTTPS.
	TLSCert, TLSKey string
	// ReadOnly refuses every write with UNSUPPORTED (405).
	ReadOnly bool
	// Htpasswd is an htpasswd file; set, it turns on basic auth (or, with
	// token auth, authenticates the token issuer's users).
	Htpasswd string
	// ACL is a JSON file of per-repository permissions (see acl.go); empty
	// gives every authenticated user every permission.
	ACL string
	// Token configures Docker token auth; it is on when Token.Realm is set
	// or Token.Issue is true.
	Token TokenConfig
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TokenConfig configures Docker's token authentication.
type TokenConfig struct {
	// Realm is the URL of the token service that challenges point at. With
	// Issue and no Realm, the challenge names this server's /token.
	Realm string
	// Issuer is the iss claim tokens must carry (and issued tokens carry).
	Issuer string
	// Service is the aud claim and the service of the challenge.
	Service string
	// Key is a PEM file: a public key or certificate to verify tokens, or a
	// private key (RSA, ECDSA P-256 or Ed25519) to verify and to issue.
	Key string
	// Issue serves a token endpoint at /token that authenticates users with
	// Htpasswd and grants what ACL allows. It needs a private Key.
	Issue bool
	// TTL is the lifetime of issued tokens; 0 means 5 minutes.
	TTL time.Duration
}

// DefaultConfig returns the configuration of `berthd registry` without
// flags.
func DefaultConfig() Config {
	return Config{Addr: "127.0.0.1:5000", Root: "/var/lib/berth/registry", Token: TokenConfig{Issuer: "berth", Service: "berth-registry", TTL: 5 * time.Minute}}
}

// Validate checks the configuration and changes nothing.
func (c Config) Validate() error {
	if c.Root == "" {
		return errors.New("registry: --root is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("registry: --tls-cert and --tls-key go together")
	}
	t := c.Token
	if t.Realm != "" || t.Issue {
		if t.Key == "" {
			return errors.New("registry: token auth needs --token-key")
		}
		if t.Issuer == "" || t.Service == "" {
			return errors.New("registry: token auth needs --token-issuer and --token-service")
		}
	}
	if t.Issue && c.Htpasswd == "" {
		return errors.New("registry: --token-issue needs --htpasswd to authenticate users")
	}
	if t.TTL < 0 {
		return errors.New("registry: negative token TTL")
	}
	return nil
}

// Server is an OCI distribution registry over a directory. It is safe for
// concurrent use, and several Servers (or a Server and GC) may share a
// root.
type Server struct {
	cfg   Config
	store *storage
	auth  *authorizer
	now   func() time.Time
}

// New builds a Server from cfg, creating the storage root and loading the
// auth files it names.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Token.TTL == 0 {
		cfg.Token.TTL = 5 * time.Minute
	}
	st, err := newStorage(cfg.Root, now)
	if err != nil {
		return nil, err
	}
	a, err := newAuthorizer(cfg, now)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, store: st, auth: a, now: now}, nil
}

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully. It closes
// ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("registry: TLS: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	log.From(ctx).Info("registry listening", "component", "registry", "addr", ln.Addr().String(), "tls", s.cfg.TLSCert != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("registry: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("registry: shutdown: %w", err)
	}
	return nil
}

// Handler returns the HTTP handler of the distribution API (and of the
// token endpoint when the server issues tokens).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		if err := s.serve(w, r); err != nil {
			if sw.status != 0 {
				// Too late for an error response: the body was being sent.
				log.From(r.Context()).Debug("registry response aborted", "component", "registry", "err", err)
			} else {
				writeError(w, r, err)
			}
		}
		log.From(r.Context()).Debug("registry request", "component", "registry", "method", r.Method,
			"path", r.URL.Path, "status", sw.status, "duration", s.now().Sub(start))
	})
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the underlying writer's sendfile path for blob bodies.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// route is a parsed request path.
type route struct {
	kind string // "base", "catalog", "blob", "upload", "manifest", "tags", "referrers"
	name string
	arg  string // digest, reference or upload id
	// canPull reports whether the client may pull from another repository
	// (the source of a mount).
	canPull func(repo string) bool
}

// parseRoute splits a /v2/ path. Repository names may contain the words the
// API uses as path elements, so the path is read from its end.
func parseRoute(p string) (route, bool) {
	if p == "/v2" || p == "/v2/" {
		return route{kind: "base"}, true
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return route{}, false
	}
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	join := func(k int) string { return strings.Join(segs[:k], "/") }
	switch {
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		return route{kind: "upload", name: join(n - 3), arg: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "blobs" && segs[n-1] == "uploads":
		return route{kind: "upload", name: join(n - 2)}, true
	case n >= 3 && segs[n-2] == "blobs":
		return route{kind: "blob", name: join(n - 2), arg: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "manifests":
		return route{kind: "manifest", name: join(n - 2), arg: segs[n-1]}, true
	case n >= 3 && segs[n-2] == "tags" && segs[n-1] == "list":
		return route{kind: "tags", name: join(n - 2)}, true
	case n >= 3 && segs[n-2] == "referrers":
		return route{kind: "referrers", name: join(n - 2), arg: segs[n-1]}, true
	}
	return route{}, false
}

func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// serve dispatches one request.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Token.Issue && (r.URL.Path == "/token" || r.URL.Path == "/token/") {
		return s.serveToken(w, r)
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		return newError(http.StatusNotFound, CodeUnsupported, "no such endpoint", nil)
	}
	if rt.name != "" && !validName(rt.name) {
		return newError(http.StatusBadRequest, CodeNameInvalid, "invalid repository name", map[string]string{"name": rt.name})
	}
	canPull, err := s.auth.authorize(r, scopesFor(rt, r))
	if err != nil {
		return err
	}
	rt.canPull = canPull
	if s.cfg.ReadOnly && isWrite(r.Method) {
		return errUnsupported("the registry is read-only")
	}
	switch rt.kind {
	case "base":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return errMethod()
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write([]byte("{}"))
		}
		return nil
	case "catalog":
		return s.serveCatalog(w, r)
	case "blob":
		return s.serveBlob(w, r, rt)
	case "upload":
		return s.serveUpload(w, r, rt)
	case "manifest":
		return s.serveManifest(w, r, rt)
	case "tags":
		return s.serveTags(w, r, rt)
	case "referrers":
		return s.serveReferrers(w, r, rt)
	}
	return errMethod()
}

func errMethod() *Error { return errUnsupported("method not allowed") }

// scopesFor returns what request r on route rt needs, in the token auth
// scope vocabulary.
func scopesFor(rt route, r *http.Request) []scope {
	switch rt.kind {
	case "base":
		return nil
	case "catalog":
		return []scope{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}
	}
	var actions []string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		actions = []string{"pull"}
	case http.MethodDelete:
		if rt.kind == "upload" {
			actions = []string{"pull", "push"}
		} else {
			actions = []string{"delete"}
		}
	default:
		actions = []string{"pull", "push"}
	}
	out := []scope{{Type: "repository", Name: rt.name, Actions: actions}}
	if rt.kind == "upload" && r.Method == http.MethodPost {
		if from := r.URL.Query().Get("from"); from != "" && r.URL.Query().Get("mount") != "" && validName(from) {
			// Mounting needs pull on the source; without it the request
			// falls back to a plain upload, so this scope is optional.
			out = append(out, scope{Type: "repository", Name: from, Actions: []string{"pull"}, optional: true})
		}
	}
	return out
}
