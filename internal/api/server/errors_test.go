package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestStatusFor_ClassTable(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{errdefs.ErrNotFound, 404},
		{errdefs.ErrInvalidArgument, 400},
		{errdefs.ErrFailedPrecondition, 400},
		{errdefs.ErrOutOfRange, 400},
		{errdefs.ErrConflict, 409},
		{errdefs.ErrAlreadyExists, 409},
		{errdefs.ErrAborted, 409},
		{errdefs.ErrNotModified, 304},
		{errdefs.ErrUnauthenticated, 401},
		{errdefs.ErrPermissionDenied, 403},
		{errdefs.ErrResourceExhausted, 429},
		{errdefs.ErrNotImplemented, 501},
		{errdefs.ErrUnavailable, 503},
		{errors.New("boom"), 500},
		{fmt.Errorf("wrapped: %w", errdefs.ErrNotFound), 404},
		{WithMessage(errdefs.ErrConflict, "Conflict. The container name"), 409},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			if got := StatusFor(tt.err); got != tt.want {
				t.Fatalf("StatusFor(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestServer_VersionNegotiationAndErrors(t *testing.T) {
	s := New(context.Background(), "test")
	s.Handle("GET /thing/{id}", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "missing" {
			return WithMessage(errdefs.ErrNotFound, "No such thing: missing")
		}
		_, err := w.Write([]byte(Version(r)))
		return err
	})
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/thing/a", 200, MaxAPIVersion},
		{"/v1.41/thing/a", 200, "1.41"},
		{"/v1.40/thing/a", 200, "1.40"},
		{"/v1.39/thing/a", 400, `{"message":"client version 1.39 is too old. Minimum supported API version is 1.40, please upgrade your client to a newer version"}`},
		{"/v1.57/thing/a", 400, `{"message":"client version 1.57 is too new. Maximum supported API version is 1.56"}`},
		{"/v1.50/thing/missing", 404, `{"message":"No such thing: missing"}`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if rec.Code != tt.status || strings.TrimSpace(rec.Body.String()) != tt.body {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tt.status, tt.body)
			}
			if rec.Header().Get("Api-Version") != MaxAPIVersion {
				t.Fatalf("Api-Version header %q", rec.Header().Get("Api-Version"))
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"1.40", "1.41", true}, {"1.9", "1.10", true}, {"1.50", "1.50", false}, {"2.0", "1.99", false}} {
		if got := VersionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("VersionLess(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}
