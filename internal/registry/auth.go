package registry

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// scope is one access request in Docker's token auth vocabulary:
// "repository:name:pull,push" or "registry:catalog:*".
type scope struct {
	Type    string
	Name    string
	Actions []string
	// optional scopes are granted when possible but never refuse a request
	// (the source repository of a mount).
	optional bool
}

func (s scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// parseScope reads "type:name:actions". Names hold no colon except a port in
// a registry host, which scopes of this registry never carry.
func parseScope(v string) (scope, bool) {
	i := strings.Index(v, ":")
	j := strings.LastIndex(v, ":")
	if i <= 0 || j <= i {
		return scope{}, false
	}
	acts := strings.Split(v[j+1:], ",")
	acts = slices.DeleteFunc(acts, func(a string) bool { return a == "" })
	return scope{Type: v[:i], Name: v[i+1 : j], Actions: acts}, true
}

// htpasswd is a user → password hash table.
type htpasswd map[string]string

// loadHtpasswd reads an htpasswd file. Supported entries are {SHA} and, for
// tests, plain text; bcrypt ($2y$) needs golang.org/x/crypto, which berth
// does not link yet, and is refused with a clear error.
func loadHtpasswd(path string) (htpasswd, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	return parseHtpasswd(b)
}

func parseHtpasswd(b []byte) (htpasswd, error) {
	out := htpasswd{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("htpasswd line %d: want user:hash", n)
		}
		switch {
		case strings.HasPrefix(hash, "$2"):
			return nil, fmt.Errorf("htpasswd line %d: bcrypt entries are not supported yet (they need golang.org/x/crypto); use {SHA}", n)
		case strings.HasPrefix(hash, "$"):
			return nil, fmt.Errorf("htpasswd line %d: unsupported hash scheme", n)
		}
		out[user] = hash
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	return out, nil
}

// verify reports whether password is user's.
func (h htpasswd) verify(user, password string) bool {
	hash, ok := h[user]
	if !ok {
		// Spend the same work on unknown users.
		hash = "{SHA}"
	}
	var match bool
	if enc, ok := strings.CutPrefix(hash, "{SHA}"); ok {
		sum := sha1.Sum([]byte(password))
		match = subtle.ConstantTimeCompare([]byte(base64.StdEncoding.EncodeToString(sum[:])), []byte(enc)) == 1
	} else {
		match = subtle.ConstantTimeCompare([]byte(hash), []byte(password)) == 1
	}
	return ok && match
}

// acl is the permission table of an ACL file:
//
//	{"rules": [
//	  {"account": "alice", "name": "alice/*", "actions": ["pull", "push", "delete"]},
//	  {"account": "*", "name": "public/*", "actions": ["pull"]},
//	  {"account": "anonymous", "name": "public/*", "actions": ["pull"]},
//	  {"account": "admin", "type": "registry", "name": "catalog", "actions": ["*"]}
//	]}
//
// account is a user name, "*" for any authenticated user or "anonymous";
// type defaults to "repository"; in name, "*" matches any run of characters,
// slashes included; the action "*" grants every action. A request gets the
// union of the rules that match it.
type acl struct {
	Rules []aclRule `json:"rules"`
}

type aclRule struct {
	Account string   `json:"account"`
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func loadACL(path string) (*acl, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("acl: %w", err)
	}
	var a acl
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("acl %s: %w", path, err)
	}
	for i, r := range a.Rules {
		if r.Account == "" || r.Name == "" {
			return nil, fmt.Errorf("acl %s: rule %d needs account and name", path, i)
		}
	}
	return &a, nil
}

// granted returns the actions of sc that account (""
// for anonymous) may take. A nil acl grants everything to authenticated
// users and nothing to anonymous ones.
func (a *acl) granted(account string, sc scope) []string {
	if a == nil {
		if account == "" {
			return nil
		}
		return sc.Actions
	}
	var out []string
	for _, r := range a.Rules {
		typ := r.Type
		if typ == "" {
			typ = "repository"
		}
		switch {
		case r.Account == "anonymous" && account == "":
		case r.Account == "*" && account != "":
		case r.Account == account && account != "":
		default:
			continue
		}
		if typ != sc.Type || !glob(r.Name, sc.Name) {
			continue
		}
		for _, want := range sc.Actions {
			if slices.Contains(r.Actions, want) || slices.Contains(r.Actions, "*") {
				if !slices.Contains(out, want) {
					out = append(out, want)
				}
			}
		}
	}
	return out
}

// glob matches name against pattern, where "*" matches any run of
// characters.
func glob(pattern, name string) bool {
	before, after, found := strings.Cut(pattern, "*")
	if !found {
		return pattern == name
	}
	if !strings.HasPrefix(name, before) {
		return false
	}
	rest := name[len(before):]
	for i := 0; i <= len(rest); i++ {
		if glob(after, rest[i:]) {
			return true
		}
	}
	return false
}

// authorizer decides whether requests may proceed.
type authorizer struct {
	users  htpasswd // basic auth, or the token issuer's users
	acl    *acl
	token  *tokenAuth // nil without token auth
	realm  string     // basic auth realm
	issuer bool       // token endpoint served here
}

func newAuthorizer(cfg Config, now func() time.Time) (*authorizer, error) {
	a := &authorizer{realm: "berth registry", issuer: cfg.Token.Issue}
	var err error
	if cfg.Htpasswd != "" {
		if a.users, err = loadHtpasswd(cfg.Htpasswd); err != nil {
			return nil, err
		}
	}
	if cfg.ACL != "" {
		if a.acl, err = loadACL(cfg.ACL); err != nil {
			return nil, err
		}
	}
	if cfg.Token.Realm != "" || cfg.Token.Issue {
		if a.token, err = newTokenAuth(cfg.Token, now); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *authorizer) enabled() bool { return a.users != nil || a.token != nil }

// authorize checks request r against the scopes it needs and returns nil
// or the error to answer with (401 with a challenge, or 403). The granted
// optional scopes are recorded on r's route through canPull.
func (a *authorizer) authorize(r *http.Request, need []scope) (func(repo string) bool, error) {
	if !a.enabled() {
		return func(string) bool { return true }, nil
	}
	if a.token != nil {
		return a.token.authorize(r, need)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || !a.users.verify(user, pass) {
		e := newError(http.StatusUnauthorized, CodeUnauthorized, "authentication required", nil)
		e.challenge = fmt.Sprintf("Basic realm=%q", a.realm)
		return nil, e
	}
	for _, sc := range need {
		if sc.optional {
			continue
		}
		if got := a.acl.granted(user, sc); len(got) < len(sc.Actions) {
			return nil, newError(http.StatusForbidden, CodeDenied, "requested access to the resource is denied", map[string]string{"scope": sc.String()})
		}
	}
	return func(repo string) bool {
		return len(a.acl.granted(user, scope{Type: "repository", Name: repo, Actions: []string{"pull"}})) == 1
	}, nil
}
