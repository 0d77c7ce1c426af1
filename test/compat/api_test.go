//go:build compat

package compat

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// apiCall sends a raw request to the daemon's socket and returns the status
// and the decoded {"message": …} error body.
func apiCall(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", suite.d.Socket)
		},
	}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://berthd"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode < 400 {
		return resp.StatusCode, ""
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: error Content-Type %q, body %q", method, path, ct, b)
	}
	var e struct {
		Message string `json:"message"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Message == "" {
		t.Fatalf("%s %s: error body is not {\"message\": …}: %q (%v)", method, path, b, err)
	}
	return resp.StatusCode, e.Message
}

// Engine API reference, "Errors": every error is a JSON object with a
// "message" and the status of its class: 400 for a malformed body or a
// version outside the supported range, 404 for an unknown object or route.
func TestAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		// message is the exact text, or a prefix when it ends in "…".
		message string
	}{
		{"malformed-json", "POST", "/v1.50/containers/create", `{"Image": "busybox",`, 400, "…"},
		{"wrong-type", "POST", "/v1.50/containers/create", `{"Image": 5}`, 400, "…"},
		{"unknown-container", "GET", "/v1.50/containers/x/json", "", 404, "No such container: x"},
		{"unknown-container-kill", "POST", "/v1.50/containers/x/kill", "", 404, "No such container: x"},
		{"unknown-image-create", "POST", "/v1.50/containers/create", `{"Image": "x"}`, 404, "No such image: x:latest"},
		{"unknown-image-inspect", "GET", "/v1.50/images/x/json", "", 404, "No such image: x:latest"},
		{"too-new", "GET", "/v1.99/version", "", 400, "client version 1.99 is too new. Maximum supported API version is …"},
		{"too-old", "GET", "/v1.20/version", "", 400, "client version 1.20 is too old. Minimum supported API version is …"},
		{"unknown-route", "GET", "/v1.50/no/such/route", "", 404, "page not found"},
		{"bad-restart", "POST", "/v1.50/containers/create", `{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}`, 400,
			"invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
		{"bad-name", "POST", "/v1.50/containers/create?name=a/b", `{"Image": "busybox"}`, 400,
			"Invalid container name (a/b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = "application/json"
			}
			status, msg := apiCall(t, tc.method, tc.path, ct, tc.body)
			if status != tc.status {
				t.Fatalf("status %d (%q), want %d", status, msg, tc.status)
			}
			if prefix, ok := strings.CutSuffix(tc.message, "…"); ok {
				if !strings.HasPrefix(msg, prefix) {
					t.Fatalf("message %q, want prefix %q", msg, prefix)
				}
			} else if msg != tc.message {
				t.Fatalf("message %q, want %q", msg, tc.message)
			}
		})
	}
	// The version endpoints answer without a prefix and with a supported one.
	for _, p := range []string{"/version", "/v1.40/version", "/v1.50/version", "/_ping"} {
		if status, msg := apiCall(t, "GET", p, "", ""); status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, status, msg)
		}
	}
}
