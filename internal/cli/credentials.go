package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// hubServer is the key docker's config.json uses for Docker Hub.
const hubServer = "https://index.docker.io/v1/"

// credentialFile is the part of docker's config.json that holds logins;
// other keys are kept as they are when the file is written.
type credentialFile struct {
	path        string
	raw         map[string]json.RawMessage
	Auths       map[string]authEntry
	CredsStore  string
	CredHelpers map[string]string
}

type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
}

// configDir is berth's client config directory: $BERTH_CONFIG, else
// ~/.berth.
func (c *CLI) configDir() string {
	if d := c.getenv("BERTH_CONFIG"); d != "" {
		return d
	}
	return filepath.Join(c.getenv("HOME"), ".berth")
}

// loadCredentials reads ~/.berth/config.json, or docker's config.json when
// berth has none.
func (c *CLI) loadCredentials() (*credentialFile, error) {
	berth := filepath.Join(c.configDir(), "config.json")
	docker := filepath.Join(c.getenv("HOME"), ".docker", "config.json")
	if d := c.getenv("DOCKER_CONFIG"); d != "" {
		docker = filepath.Join(d, "config.json")
	}
	for _, p := range []string{berth, docker} {
		f, err := readCredentialFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f.path = berth // berth writes only its own file
		return f, nil
	}
	return &credentialFile{path: berth, raw: map[string]json.RawMessage{}, Auths: map[string]authEntry{}}, nil
}

func readCredentialFile(p string) (*credentialFile, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	f := &credentialFile{raw: map[string]json.RawMessage{}, Auths: map[string]authEntry{}}
	if len(bytes.TrimSpace(b)) == 0 {
		return f, nil
	}
	if err := json.Unmarshal(b, &f.raw); err != nil {
		return nil, fmt.Errorf("loading config file %s: %w", p, err)
	}
	for key, dst := range map[string]any{"auths": &f.Auths, "credsStore": &f.CredsStore, "credHelpers": &f.CredHelpers} {
		if v, ok := f.raw[key]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return nil, fmt.Errorf("loading config file %s: %s: %w", p, key, err)
			}
		}
	}
	if f.Auths == nil {
		f.Auths = map[string]authEntry{}
	}
	return f, nil
}

func (f *credentialFile) save() error {
	if f.raw == nil {
		f.raw = map[string]json.RawMessage{}
	}
	b, err := json.Marshal(f.Auths)
	if err != nil {
		return err
	}
	f.raw["auths"] = b
	out, err := json.MarshalIndent(f.raw, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return err
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f.path)
}

// helper returns the credential helper for server, "" for the file.
func (f *credentialFile) helper(server string) string {
	if h, ok := f.CredHelpers[strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")]; ok {
		return h
	}
	if h, ok := f.CredHelpers[server]; ok {
		return h
	}
	return f.CredsStore
}

// helperCall runs docker-credential-NAME ACTION with input on stdin.
func helperCall(ctx context.Context, name, action string, input []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "docker-credential-"+name, action)
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + stderr.String())
		return nil, fmt.Errorf("credential helper %s %s: %v: %s", name, action, err, msg)
	}
	return out, nil
}

type helperCreds struct {
	ServerURL string
	Username  string
	Secret    string
}

// get returns the credentials stored for server (zero when none).
func (f *credentialFile) get(ctx context.Context, server string) (registry.AuthConfig, error) {
	if h := f.helper(server); h != "" {
		out, err := helperCall(ctx, h, "get", []byte(server))
		if err != nil {
			if strings.Contains(err.Error(), "credentials not found") {
				return registry.AuthConfig{}, nil
			}
			return registry.AuthConfig{}, err
		}
		var hc helperCreds
		if err := json.Unmarshal(out, &hc); err != nil {
			return registry.AuthConfig{}, fmt.Errorf("credential helper %s: %w", h, err)
		}
		a := registry.AuthConfig{ServerAddress: server}
		if hc.Username == "<token>" {
			a.IdentityToken = hc.Secret
		} else {
			a.Username, a.Password = hc.Username, hc.Secret
		}
		return a, nil
	}
	e, ok := f.Auths[server]
	if !ok {
		return registry.AuthConfig{}, nil
	}
	a := registry.AuthConfig{ServerAddress: server, IdentityToken: e.IdentityToken}
	if e.Auth != "" {
		b, err := base64.StdEncoding.DecodeString(e.Auth)
		if err != nil {
			return a, fmt.Errorf("invalid auth for %s in %s: %w", server, f.path, err)
		}
		a.Username, a.Password, _ = strings.Cut(string(b), ":")
	}
	return a, nil
}

// store records a login for server.
func (f *credentialFile) store(ctx context.Context, server string, a registry.AuthConfig) error {
	if h := f.helper(server); h != "" {
		hc := helperCreds{ServerURL: server, Username: a.Username, Secret: a.Password}
		if a.IdentityToken != "" {
			hc.Username, hc.Secret = "<token>", a.IdentityToken
		}
		b, _ := json.Marshal(hc)
		if _, err := helperCall(ctx, h, "store", b); err != nil {
			return err
		}
		f.Auths[server] = authEntry{}
		return f.save()
	}
	e := authEntry{IdentityToken: a.IdentityToken}
	if a.IdentityToken == "" {
		e.Auth = base64.StdEncoding.EncodeToString([]byte(a.Username + ":" + a.Password))
	}
	f.Auths[server] = e
	return f.save()
}

// erase forgets the login for server; it reports whether there was one.
func (f *credentialFile) erase(ctx context.Context, server string) (bool, error) {
	_, had := f.Auths[server]
	if h := f.helper(server); h != "" {
		if _, err := helperCall(ctx, h, "erase", []byte(server)); err == nil {
			had = true
		}
	}
	if !had {
		return false, nil
	}
	delete(f.Auths, server)
	return true, f.save()
}

// serverKey is the config.json key of a registry: Docker Hub's URL, else
// the host.
func serverKey(server string) string {
	s := strings.TrimSpace(server)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return hubServer
	}
	return s
}

// registryAuth returns the X-Registry-Auth value for the registry of ref.
func (c *CLI) registryAuth(ctx context.Context, ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	f, err := c.loadCredentials()
	if err != nil {
		return "", err
	}
	a, err := f.get(ctx, serverKey(reference.Domain(named)))
	if err != nil {
		return "", err
	}
	return encodeAuth(a)
}

func encodeAuth(a registry.AuthConfig) (string, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

func authConfig(user, password, identityToken string) registry.AuthConfig {
	if identityToken != "" {
		return registry.AuthConfig{IdentityToken: identityToken}
	}
	return registry.AuthConfig{Username: user, Password: password}
}
