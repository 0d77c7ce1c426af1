package registry_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth/internal/registry"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func shaLine(user, pass string) string {
	sum := sha1.Sum([]byte(pass))
	return user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuth_Basic(t *testing.T) {
	users := writeFile(t, "htpasswd", "# users\n"+shaLine("alice", "wonder")+shaLine("bob", "builder")+"carol:plain-for-tests\n")
	acl := writeFile(t, "acl.json", `{"rules":[
		{"account":"alice","name":"*","actions":["*"]},
		{"account":"alice","type":"registry","name":"catalog","actions":["*"]},
		{"account":"*","name":"pub/*","actions":["pull"]},
		{"account":"carol","name":"carol/*","actions":["pull","push"]}]}`)
	e := newEnv(t, func(c *registry.Config) { c.Htpasswd = users; c.ACL = acl })
	tests := []struct {
		name, auth, method, path string
		status                   int
		code                     string
	}{
		{"no credentials", "", "GET", "/v2/", 401, registry.CodeUnauthorized},
		{"wrong password", basic("alice", "nope"), "GET", "/v2/", 401, registry.CodeUnauthorized},
		{"unknown user", basic("mallory", "wonder"), "GET", "/v2/", 401, registry.CodeUnauthorized},
		{"ping", basic("bob", "builder"), "GET", "/v2/", 200, ""},
		{"admin push", basic("alice", "wonder"), "POST", "/v2/pub/x/blobs/uploads/", 202, ""},
		{"read-only pull", basic("bob", "builder"), "GET", "/v2/pub/x/tags/list", 404, registry.CodeNameUnknown},
		{"read-only push", basic("bob", "builder"), "POST", "/v2/pub/x/blobs/uploads/", 403, registry.CodeDenied},
		{"other repository", basic("bob", "builder"), "GET", "/v2/secret/tags/list", 403, registry.CodeDenied},
		{"plain entry", basic("carol", "plain-for-tests"), "POST", "/v2/carol/x/blobs/uploads/", 202, ""},
		{"no delete", basic("carol", "plain-for-tests"), "DELETE", "/v2/carol/x/manifests/latest", 403, registry.CodeDenied},
		{"catalog denied", basic("bob", "builder"), "GET", "/v2/_catalog", 403, registry.CodeDenied},
		{"catalog", basic("alice", "wonder"), "GET", "/v2/_catalog", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			e.auth = tc.auth
			resp, body := e.do(tc.method, tc.path, nil)
			e.expect(resp, body, tc.status)
			if tc.code != "" {
				if c := errCode(t, body); c != tc.code {
					t.Fatalf("code %s, want %s", c, tc.code)
				}
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="berth registry"` {
				t.Fatalf("challenge %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestAuth_HtpasswdBcryptRefused(t *testing.T) {
	users := writeFile(t, "htpasswd", "alice:$2y$05$abcdefghijklmnopqrstuu5Zk3K3B5BJwGzMHOWu2cCnKDl6yT9Vm\n")
	cfg := registry.DefaultConfig()
	cfg.Root = t.TempDir()
	cfg.Htpasswd = users
	if _, err := registry.New(cfg); err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("New: %v", err)
	}
}

func pemKey(t *testing.T, key crypto.Signer) (priv, pub string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pder, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}))
}

// token asks the token endpoint of e for scope as user.
func token(t *testing.T, e *env, auth, scope string) (string, int) {
	t.Helper()
	saved := e.auth
	e.auth = auth
	defer func() { e.auth = saved }()
	resp, body := e.do("GET", "/token?service=berth-registry&scope="+scope, nil)
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	mustJSON(t, body, &tr)
	if tr.Token == "" || tr.Token != tr.AccessToken || tr.ExpiresIn != 300 {
		t.Fatalf("token response %s", body)
	}
	return tr.Token, 200
}

func TestAuth_Token(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]crypto.Signer{"ES256": ecKey, "RS256": rsaKey, "EdDSA": edKey}
	for name, key := range keys {
		t.Run(name, func(t *testing.T) {
			priv, pub := pemKey(t, key)
			users := writeFile(t, "htpasswd", shaLine("alice", "wonder")+shaLine("bob", "builder"))
			acl := writeFile(t, "acl.json", `{"rules":[
				{"account":"alice","name":"*","actions":["*"]},
				{"account":"bob","name":"app","actions":["pull"]},
				{"account":"anonymous","name":"public","actions":["pull"]}]}`)
			clock := time.Now()
			issuer := newEnv(t, func(c *registry.Config) {
				c.Htpasswd, c.ACL = users, acl
				c.Token.Issue, c.Token.Key = true, writeFile(t, "key.pem", priv)
				c.Now = func() time.Time { return clock }
			})
			// A second registry only verifies, with the public key, tokens
			// of the same (here: the first registry's) token service.
			verifier := newEnv(t, func(c *registry.Config) {
				c.Token.Realm, c.Token.Key = issuer.srv.URL+"/token", writeFile(t, "pub.pem", pub)
			})

			resp, body := issuer.do("GET", "/v2/app/tags/list", nil)
			issuer.expect(resp, body, 401)
			want := `Bearer realm="` + issuer.srv.URL + `/token",service="berth-registry",scope="repository:app:pull"`
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("challenge %q, want %q", got, want)
			}

			pushTok, st := token(t, issuer, basic("alice", "wonder"), "repository:app:pull,push")
			if st != 200 {
				t.Fatalf("token status %d", st)
			}
			pullTok, _ := token(t, issuer, basic("bob", "builder"), "repository:app:pull,push")
			anonTok, _ := token(t, issuer, "", "repository:public:pull")
			if _, st := token(t, issuer, basic("bob", "wrong"), "repository:app:pull"); st != 401 {
				t.Fatalf("wrong password: token status %d", st)
			}

			for _, e := range []*env{issuer, verifier} {
				e.auth = "Bearer " + pushTok
				resp, body := e.do("POST", "/v2/app/blobs/uploads/", nil)
				e.expect(resp, body, 202)
				e.auth = "Bearer " + pullTok
				resp, body = e.do("GET", "/v2/app/tags/list", nil)
				e.expect(resp, body, 404) // authorised; nothing is tagged
				resp, body = e.do("POST", "/v2/app/blobs/uploads/", nil)
				e.expect(resp, body, 401)
				if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_scope"`) || !strings.Contains(got, `scope="repository:app:pull,push"`) {
					t.Fatalf("insufficient scope challenge %q", got)
				}
				e.auth = "Bearer " + anonTok
				resp, body = e.do("GET", "/v2/public/tags/list", nil)
				e.expect(resp, body, 404) // authorised; the repository is empty
				resp, body = e.do("GET", "/v2/app/tags/list", nil)
				e.expect(resp, body, 401)
				e.auth = "Bearer " + pullTok[:len(pullTok)-4] + "AAAA"
				resp, body = e.do("GET", "/v2/app/tags/list", nil)
				e.expect(resp, body, 401)
			}
			// Tokens expire.
			clock = clock.Add(10 * time.Minute)
			issuer.auth = "Bearer " + pullTok
			resp, body = issuer.do("GET", "/v2/app/tags/list", nil)
			issuer.expect(resp, body, 401)
			if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Fatalf("expired token challenge %q", got)
			}
		})
	}
}

func TestAuth_TokenClaims(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	priv, _ := pemKey(t, key)
	users := writeFile(t, "htpasswd", shaLine("alice", "wonder"))
	e := newEnv(t, func(c *registry.Config) {
		c.Htpasswd = users
		c.Token.Issue, c.Token.Key, c.Token.Issuer, c.Token.Service = true, writeFile(t, "key.pem", priv), "me", "svc"
	})
	e.auth = basic("alice", "wonder")
	resp, body := e.do("GET", "/token?service=svc&scope=repository:a/b:pull&scope=registry:catalog:*", nil)
	e.expect(resp, body, 200)
	var tr struct{ Token string }
	mustJSON(t, body, &tr)
	parts := strings.Split(tr.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tr.Token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss, Sub, Aud string
		Access        []struct {
			Type, Name string
			Actions    []string
		}
	}
	mustJSON(t, raw, &c)
	if c.Iss != "me" || c.Sub != "alice" || c.Aud != "svc" || len(c.Access) != 2 || c.Access[0].Name != "a/b" || c.Access[1].Type != "registry" {
		t.Fatalf("claims %s", raw)
	}
	resp, body = e.do("GET", "/token?service=other", nil)
	e.expect(resp, body, 400)
}
