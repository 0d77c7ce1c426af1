package image

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"berth/internal/api/server"
)

// AuthFromHeader decodes the X-Registry-Auth header the docker CLI sends:
// base64 (URL-safe, or standard) JSON of a registry.AuthConfig. An empty
// header gives zero credentials.
func AuthFromHeader(h string) (registry.AuthConfig, error) {
	var a registry.AuthConfig
	h = strings.TrimSpace(h)
	if h == "" || h == "e30" || h == "e30=" {
		return a, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			if b, err = base64.StdEncoding.DecodeString(h); err != nil {
				return a, server.WithMessage(errdefs.ErrInvalidArgument, "invalid X-Registry-Auth header: "+err.Error())
			}
		}
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, server.WithMessage(errdefs.ErrInvalidArgument, "invalid X-Registry-Auth header: "+err.Error())
	}
	return a, nil
}

// lazyStream starts the JSON message stream with its first message, so
// that an error before any progress gets its own status code.
type lazyStream struct {
	w http.ResponseWriter
	s *jsonStream
}

func (l *lazyStream) send(m jsonstream.Message) {
	if l.s == nil {
		l.s = newJSONStream(l.w)
	}
	_ = l.s.enc.Encode(m)
}

// finish reports err in the stream once it has started, or returns it.
func (l *lazyStream) finish(err error) error {
	if err == nil || l.s == nil {
		if err == nil && l.s == nil {
			l.s = newJSONStream(l.w)
		}
		return err
	}
	l.s.fail(err)
	return nil
}

// pull serves POST /images/create?fromImage=NAME&tag=TAG|DIGEST; an empty
// tag pulls every tag, as the API says.
func (rt *Router) pull(w http.ResponseWriter, r *http.Request, from string) error {
	auth, err := AuthFromHeader(r.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	ref, all := from, false
	switch tag := r.FormValue("tag"); {
	case strings.Contains(tag, ":"):
		ref = from + "@" + tag
	case tag != "":
		ref = from + ":" + tag
	case !strings.ContainsAny(lastElem(from), ":@"):
		all = true
	}
	ls := &lazyStream{w: w}
	return ls.finish(rt.b.Pull(r.Context(), ref, r.FormValue("platform"), all, auth, ls.send))
}

// push serves POST /images/{name}/push?tag=TAG; an empty tag pushes every
// local tag of the repository.
func (rt *Router) push(w http.ResponseWriter, r *http.Request, name string) error {
	auth, err := AuthFromHeader(r.Header.Get(registry.AuthHeader))
	if err != nil {
		return err
	}
	ref, all := name, true
	if tag := r.FormValue("tag"); tag != "" {
		ref, all = name+":"+tag, false
	}
	ls := &lazyStream{w: w}
	return ls.finish(rt.b.Push(r.Context(), ref, all, auth, ls.send))
}

func lastElem(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}
