package plugin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// MediaType is the media type of plugin requests and answers.
const MediaType = "application/vnd.docker.plugins.v1.2+json"

// MaxResponse bounds the body of one answer.
const MaxResponse = 16 << 20

// DefaultTimeout bounds one call when NewClient is given no timeout; it is
// dockerd's plugin client timeout.
const DefaultTimeout = 30 * time.Second

// Client calls one plugin. It is safe for concurrent use; Close releases its
// idle connections.
type Client struct {
	ep      Endpoint
	http    *http.Client
	base    string
	timeout time.Duration
}

// NewClient returns a client for ep whose calls each last at most timeout
// (DefaultTimeout when zero). It does not connect.
func NewClient(ep Endpoint, timeout time.Duration) (*Client, error) {
	if err := checkAddr(ep.Addr); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	u, _ := url.Parse(ep.Addr) // checked above
	// No keep-alive: a connection per call costs little on a unix socket, and a
	// plugin that restarts never meets a stale connection.
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	base := "http://" + u.Host
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		base = "http://plugin"
	case "https":
		cfg, err := tlsConfig(ep.TLS)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", ep.Name, err)
		}
		tr.TLSClientConfig = cfg
		base = "https://" + u.Host
	}
	return &Client{ep: ep, http: &http.Client{Transport: tr}, base: base, timeout: timeout}, nil
}

func tlsConfig(c *TLSConfig) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c == nil {
		return cfg, nil
	}
	cfg.InsecureSkipVerify = c.InsecureSkipVerify
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Endpoint returns where the client sends its calls.
func (c *Client) Endpoint() Endpoint { return c.ep }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// CallError is an error the plugin reported, in its "Err" field or with a
// status other than 200. Its text is "METHOD: MESSAGE", as dockerd prints it.
type CallError struct {
	// Method is the called method, e.g. "VolumeDriver.Create".
	Method string
	// Message is the plugin's text.
	Message string
	// Status is the HTTP status of the answer.
	Status int
}

// Error returns "METHOD: MESSAGE".
func (e *CallError) Error() string { return e.Method + ": " + e.Message }

// Unwrap classifies a 404 (a method the plugin does not serve) as
// errdefs.ErrNotImplemented; other plugin errors carry no class.
func (e *CallError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return errdefs.ErrNotImplemented
	}
	return nil
}

// unavailableError is a failure to reach the plugin or a call that timed out.
type unavailableError struct {
	msg   string
	cause error
}

func (e *unavailableError) Error() string   { return e.msg }
func (e *unavailableError) Unwrap() []error { return []error{errdefs.ErrUnavailable, e.cause} }

// Call posts req as JSON to /method and decodes the answer into resp (which
// may be nil). A plugin error is a *CallError; a plugin that cannot be
// reached or does not answer within the timeout is errdefs.ErrUnavailable
// with a message naming the plugin and method; a cancelled ctx returns its
// error.
func (c *Client) Call(ctx context.Context, method string, req, resp any) error {
	body := []byte("{}")
	if req != nil {
		b, err := json.Marshal(req)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", method, err)
		}
		body = b
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(cctx, http.MethodPost, c.base+"/"+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	hreq.Header.Set("Accept", MediaType)
	hreq.Header.Set("Content-Type", MediaType)
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return c.transportError(ctx, cctx, method, err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, MaxResponse+1))
	if err != nil {
		return c.transportError(ctx, cctx, method, err)
	}
	if len(raw) > MaxResponse {
		return fmt.Errorf("%s: plugin %q answered more than %d bytes", method, c.ep.Name, MaxResponse)
	}
	var perr struct{ Err string }
	_ = json.Unmarshal(raw, &perr) // a body that is not an object has no Err
	if hresp.StatusCode != http.StatusOK {
		msg := perr.Err
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
			if len(msg) > 512 {
				msg = msg[:512]
			}
			if msg == "" {
				msg = hresp.Status
			}
		}
		return &CallError{Method: method, Message: msg, Status: hresp.StatusCode}
	}
	if perr.Err != "" {
		return &CallError{Method: method, Message: perr.Err, Status: hresp.StatusCode}
	}
	if resp == nil {
		return nil
	}
	if err := json.Unmarshal(raw, resp); err != nil {
		return fmt.Errorf("%s: plugin %q: decode answer: %w", method, c.ep.Name, err)
	}
	return nil
}

func (c *Client) transportError(ctx, cctx context.Context, method string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return &unavailableError{
			msg:   fmt.Sprintf("%s: plugin %q did not answer within %s", method, c.ep.Name, c.timeout),
			cause: context.DeadlineExceeded,
		}
	}
	return &unavailableError{msg: fmt.Sprintf("%s: plugin %q at %s: %v", method, c.ep.Name, c.ep.Addr, err), cause: err}
}

// Activate performs the /Plugin.Activate handshake and returns the
// interfaces the plugin implements.
func (c *Client) Activate(ctx context.Context) ([]string, error) {
	var resp struct{ Implements []string }
	if err := c.Call(ctx, "Plugin.Activate", nil, &resp); err != nil {
		return nil, err
	}
	return resp.Implements, nil
}
