package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// tokenAuth validates (and, with a private key, issues) the JWT bearer
// tokens of Docker's token authentication.
type tokenAuth struct {
	cfg  TokenConfig
	now  func() time.Time
	pub  crypto.PublicKey
	priv crypto.Signer // nil when only verifying
	alg  string        // JWS algorithm of the key: RS256, ES256 or EdDSA
	kid  string
}

// leeway tolerates clock skew between the token service and the registry.
const leeway = time.Minute

func newTokenAuth(cfg TokenConfig, now func() time.Time) (*tokenAuth, error) {
	b, err := os.ReadFile(cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	t := &tokenAuth{cfg: cfg, now: now}
	if err := t.loadKey(b); err != nil {
		return nil, fmt.Errorf("token key %s: %w", cfg.Key, err)
	}
	if cfg.Issue && t.priv == nil {
		return nil, fmt.Errorf("token key %s: issuing tokens needs a private key", cfg.Key)
	}
	return t, nil
}

// loadKey reads the first usable PEM block of b.
func (t *tokenAuth) loadKey(b []byte) error {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return errors.New("no usable PEM key or certificate")
		}
		var key any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(blk.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
				key = c.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return err
		}
		if s, ok := key.(crypto.Signer); ok {
			t.priv = s
			key = s.Public()
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			t.alg = "RS256"
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return errors.New("ECDSA keys must use P-256 (ES256)")
			}
			t.alg = "ES256"
		case ed25519.PublicKey:
			t.alg = "EdDSA"
		default:
			return fmt.Errorf("unsupported key type %T", key)
		}
		t.pub = key
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(der)
		t.kid = hex.EncodeToString(sum[:16])
		return nil
	}
}

// claims are the JWT claims of a registry token.
type claims struct {
	Issuer    string     `json:"iss"`
	Subject   string     `json:"sub,omitempty"`
	Audience  audience   `json:"aud"`
	Expiry    int64      `json:"exp"`
	NotBefore int64      `json:"nbf,omitempty"`
	IssuedAt  int64      `json:"iat,omitempty"`
	ID        string     `json:"jti,omitempty"`
	Access    []accessEl `json:"access"`
}

// accessEl is one entry of a token's access claim.
type accessEl struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// audience is the aud claim, a string or a list of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

var b64 = base64.RawURLEncoding

// sign returns the signature of the JWS signing input in.
func (t *tokenAuth) sign(in []byte) ([]byte, error) {
	switch t.alg {
	case "EdDSA":
		return t.priv.Sign(rand.Reader, in, crypto.Hash(0))
	case "RS256":
		sum := sha256.Sum256(in)
		return t.priv.Sign(rand.Reader, sum[:], crypto.SHA256)
	case "ES256":
		sum := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, t.priv.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %s", t.alg)
}

func (t *tokenAuth) verifySig(in, sig []byte) bool {
	switch k := t.pub.(type) {
	case ed25519.PublicKey:
		return ed25519.Verify(k, in, sig)
	case *rsa.PublicKey:
		sum := sha256.Sum256(in)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil
	case *ecdsa.PublicKey:
		if len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256(in)
		return ecdsa.Verify(k, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	return false
}

// issue returns a signed token for c.
func (t *tokenAuth) issue(c claims) (string, error) {
	h, _ := json.Marshal(jwtHeader{Alg: t.alg, Typ: "JWT", Kid: t.kid})
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig, err := t.sign([]byte(in))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return in + "." + b64.EncodeToString(sig), nil
}

// parse verifies token and returns its claims.
func (t *tokenAuth) parse(token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("malformed token")
	}
	hb, err1 := b64.DecodeString(parts[0])
	pb, err2 := b64.DecodeString(parts[1])
	sig, err3 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errors.New("malformed token encoding")
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, errors.New("malformed token header")
	}
	if h.Alg != t.alg {
		return nil, fmt.Errorf("token algorithm %q not accepted", h.Alg)
	}
	if !t.verifySig([]byte(parts[0]+"."+parts[1]), sig) {
		return nil, errors.New("invalid token signature")
	}
	var c claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, errors.New("malformed token claims")
	}
	now := t.now()
	switch {
	case c.Issuer != t.cfg.Issuer:
		return nil, errors.New("token issuer not trusted")
	case !slices.Contains(c.Audience, t.cfg.Service):
		return nil, errors.New("token audience does not match")
	case c.Expiry == 0 || now.After(time.Unix(c.Expiry, 0).Add(leeway)):
		return nil, errors.New("token expired")
	case c.NotBefore != 0 && now.Add(leeway).Before(time.Unix(c.NotBefore, 0)):
		return nil, errors.New("token not yet valid")
	}
	return &c, nil
}

// allows reports whether the token grants every action of sc.
func (c *claims) allows(sc scope) bool {
	for _, want := range sc.Actions {
		ok := false
		for _, a := range c.Access {
			if a.Type == sc.Type && a.Name == sc.Name && (slices.Contains(a.Actions, want) || slices.Contains(a.Actions, "*")) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (t *tokenAuth) realm(r *http.Request) string {
	if t.cfg.Realm != "" {
		return t.cfg.Realm
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/token"
}

// challenge builds the 401 of a request that lacks a good token.
func (t *tokenAuth) challenge(r *http.Request, need []scope, errCode, msg string) *Error {
	var scopes []string
	for _, sc := range need {
		if !sc.optional {
			scopes = append(scopes, sc.String())
		}
	}
	v := fmt.Sprintf("Bearer realm=%q,service=%q", t.realm(r), t.cfg.Service)
	if len(scopes) > 0 {
		v += fmt.Sprintf(",scope=%q", strings.Join(scopes, " "))
	}
	if errCode != "" {
		v += fmt.Sprintf(",error=%q", errCode)
	}
	e := newError(http.StatusUnauthorized, CodeUnauthorized, msg, nil)
	e.challenge = v
	return e
}

func (t *tokenAuth) authorize(r *http.Request, need []scope) (func(string) bool, error) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return nil, t.challenge(r, need, "", "authentication required")
	}
	c, err := t.parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, t.challenge(r, need, "invalid_token", err.Error())
	}
	for _, sc := range need {
		if !sc.optional && !c.allows(sc) {
			return nil, t.challenge(r, need, "insufficient_scope", "insufficient scope: "+sc.String())
		}
	}
	return func(repo string) bool {
		return c.allows(scope{Type: "repository", Name: repo, Actions: []string{"pull"}})
	}, nil
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// serveToken is the token endpoint (GET /token): it authenticates the user
// with basic auth (no credentials mean anonymous) and grants the requested
// scopes as far as the ACL allows.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return errMethod()
	}
	t := s.auth.token
	q := r.URL.Query()
	if svc := q.Get("service"); svc != "" && svc != t.cfg.Service {
		return newError(http.StatusBadRequest, CodeDenied, "unknown service", map[string]string{"service": svc})
	}
	account := ""
	if user, pass, ok := r.BasicAuth(); ok {
		if !s.auth.users.verify(user, pass) {
			e := newError(http.StatusUnauthorized, CodeUnauthorized, "incorrect username or password", nil)
			e.challenge = `Basic realm="berth registry token service"`
			return e
		}
		account = user
	}
	var access []accessEl
	for _, v := range q["scope"] {
		for _, f := range strings.Fields(v) {
			sc, ok := parseScope(f)
			if !ok {
				continue
			}
			if got := s.auth.acl.granted(account, sc); len(got) > 0 {
				access = append(access, accessEl{Type: sc.Type, Name: sc.Name, Actions: got})
			}
		}
	}
	if access == nil {
		access = []accessEl{}
	}
	now := s.now()
	var jti [12]byte
	rand.Read(jti[:])
	tok, err := t.issue(claims{
		Issuer: t.cfg.Issuer, Subject: account, Audience: audience{t.cfg.Service},
		Expiry: now.Add(t.cfg.TTL).Unix(), NotBefore: now.Unix(), IssuedAt: now.Unix(),
		ID: hex.EncodeToString(jti[:]), Access: access,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, r, "application/json", tokenResponse{
		Token: tok, AccessToken: tok, ExpiresIn: int(t.cfg.TTL / time.Second), IssuedAt: now.UTC().Format(time.RFC3339),
	})
}

// MarshalJSON writes a single audience as a string, as most token
// services do.
func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}
