// Package plugin is a client for Docker's legacy ("v1", managed outside the
// daemon) plugins, used by volume drivers: it finds a plugin by name the way
// dockerd does and speaks the plugin protocol, an HTTP POST of a JSON body to
// /Plugin.Activate and /<Interface>.<Method>, over a unix socket or TCP.
//
// # Discovery
//
// For a plugin NAME, each directory of the search list is tried in order, and
// in each directory these files:
//
//	NAME.sock, NAME/NAME.sock    a unix socket the plugin listens on
//	NAME.spec, NAME/NAME.spec    one line: the plugin's URL (unix://, tcp://, http://, https://)
//	NAME.json, NAME/NAME.json    {"Name": …, "Addr": URL, "TLSConfig": {…}}
//
// dockerd looks for sockets in /run/docker/plugins and for spec files in
// /etc/docker/plugins and /usr/lib/docker/plugins (DefaultDirs); berth accepts
// every form in every directory. Nothing is cached here: callers locate a
// plugin on each use, so a plugin started after the daemon is found without a
// restart.
//
// # Calls
//
// A Client sends each call with the Accept and Content-Type headers
// "application/vnd.docker.plugins.v1.2+json", bounds it with a timeout, reads
// at most MaxResponse bytes, and turns the plugin's {"Err": "…"} answers into a
// *CallError. Transport failures and timeouts are classified as
// errdefs.ErrUnavailable. A Client is safe for concurrent use.
package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/containerd/errdefs"
)

// DefaultDirs returns dockerd's plugin directories, in search order.
func DefaultDirs() []string {
	return []string{"/run/docker/plugins", "/etc/docker/plugins", "/usr/lib/docker/plugins"}
}

// Endpoint is where a located plugin listens.
type Endpoint struct {
	// Name is the plugin's name.
	Name string
	// Addr is the plugin's URL: "unix:///path.sock", "tcp://host:port",
	// "http://host:port" or "https://host:port".
	Addr string
	// TLS holds the TLS settings of a .json spec; nil otherwise.
	TLS *TLSConfig
	// Source is the file that named the plugin.
	Source string
}

// TLSConfig is the "TLSConfig" object of a .json plugin spec, as dockerd reads it.
type TLSConfig struct {
	CAFile             string `json:"CAFile,omitempty"`
	CertFile           string `json:"CertFile,omitempty"`
	KeyFile            string `json:"KeyFile,omitempty"`
	InsecureSkipVerify bool   `json:"InsecureSkipVerify,omitempty"`
}

// spec is the content of a NAME.json file.
type spec struct {
	Name      string     `json:"Name"`
	Addr      string     `json:"Addr"`
	TLSConfig *TLSConfig `json:"TLSConfig"`
}

// validName keeps plugin names to one path element; dockerd's names are
// image-like ("vendor/name:tag" for managed plugins), which legacy plugins
// cannot have since they are files.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// maxSpecSize bounds the spec files read.
const maxSpecSize = 64 << 10

// NotFoundError is dockerd's `plugin "NAME" not found`, classified as
// errdefs.ErrNotFound.
type NotFoundError struct{ Name string }

// Error returns dockerd's text.
func (e *NotFoundError) Error() string { return fmt.Sprintf("plugin %q not found", e.Name) }

// Unwrap classifies the error as errdefs.ErrNotFound.
func (e *NotFoundError) Unwrap() error { return errdefs.ErrNotFound }

// Locate finds the plugin name in dirs (see the package comment). A name
// that is not one path element is errdefs.ErrInvalidArgument; a plugin found
// nowhere is a *NotFoundError; an unreadable or malformed spec file is an
// error naming the file.
func Locate(name string, dirs []string) (Endpoint, error) {
	if len(name) > 255 || !validName.MatchString(name) {
		return Endpoint{}, fmt.Errorf("invalid plugin name %q: %w", name, errdefs.ErrInvalidArgument)
	}
	for _, dir := range dirs {
		for _, base := range []string{dir, filepath.Join(dir, name)} {
			sock := filepath.Join(base, name+".sock")
			if fi, err := os.Stat(sock); err == nil && fi.Mode().Type() == fs.ModeSocket {
				return Endpoint{Name: name, Addr: "unix://" + sock, Source: sock}, nil
			}
			for _, ext := range []string{".spec", ".json"} {
				file := filepath.Join(base, name+ext)
				ep, err := readSpec(name, file, ext == ".json")
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return Endpoint{}, err
				}
				return ep, nil
			}
		}
	}
	return Endpoint{}, &NotFoundError{Name: name}
}

func readSpec(name, file string, isJSON bool) (Endpoint, error) {
	f, err := os.Open(file)
	if err != nil {
		return Endpoint{}, err
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, maxSpecSize+1))
	if err != nil {
		return Endpoint{}, fmt.Errorf("plugin spec %s: %w", file, err)
	}
	if len(content) > maxSpecSize {
		return Endpoint{}, fmt.Errorf("plugin spec %s: larger than %d bytes", file, maxSpecSize)
	}
	ep := Endpoint{Name: name, Source: file}
	if isJSON {
		var s spec
		if err := json.Unmarshal(content, &s); err != nil {
			return Endpoint{}, fmt.Errorf("plugin spec %s: %w", file, err)
		}
		ep.Addr, ep.TLS = strings.TrimSpace(s.Addr), s.TLSConfig
	} else {
		ep.Addr = strings.TrimSpace(string(content))
	}
	if err := checkAddr(ep.Addr); err != nil {
		return Endpoint{}, fmt.Errorf("plugin spec %s: %w", file, err)
	}
	return ep, nil
}

// checkAddr accepts the URL forms a Client can dial.
func checkAddr(addr string) error {
	u, err := url.Parse(addr)
	if err != nil {
		return fmt.Errorf("plugin address %q: %w", addr, err)
	}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			return fmt.Errorf("plugin address %q: no socket path", addr)
		}
	case "tcp", "http", "https":
		if u.Host == "" {
			return fmt.Errorf("plugin address %q: no host", addr)
		}
	case "":
		return fmt.Errorf("plugin address %q: Unknown protocol", addr)
	default:
		return fmt.Errorf("plugin address %q: unsupported protocol %q", addr, u.Scheme)
	}
	return nil
}
