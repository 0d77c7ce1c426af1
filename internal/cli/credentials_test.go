package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerKey(t *testing.T) {
	for in, want := range map[string]string{
		"":                            hubServer,
		"docker.io":                   hubServer,
		"https://index.docker.io/v1/": hubServer,
		"localhost:5000":              "localhost:5000",
		"http://127.0.0.1:5000/v2/":   "127.0.0.1:5000",
	} {
		if got := serverKey(in); got != want {
			t.Errorf("serverKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredentials_StoreGetEraseAndDockerFallback(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	c := &CLI{getenv: func(k string) string { return env[k] }}
	ctx := t.Context()

	// Docker's file is read when berth has none.
	docker := filepath.Join(home, ".docker", "config.json")
	if err := os.MkdirAll(filepath.Dir(docker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docker, []byte(`{"auths":{"reg:5000":{"auth":"Ym9iOnB3"}},"psFormat":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := c.loadCredentials()
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.get(ctx, "reg:5000")
	if err != nil || a.Username != "bob" || a.Password != "pw" {
		t.Fatalf("docker fallback: %+v %v", a, err)
	}

	if err := f.store(ctx, "localhost:5000", authConfig("alice", "s3cret", "")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".berth", "config.json"))
	if err != nil || !strings.Contains(string(b), `"psFormat": "x"`) {
		t.Fatalf("berth config: %s %v", b, err)
	}
	if st, _ := os.Stat(filepath.Join(home, ".berth", "config.json")); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	f, err = c.loadCredentials()
	if err != nil {
		t.Fatal(err)
	}
	a, err = f.get(ctx, "localhost:5000")
	if err != nil || a.Username != "alice" || a.Password != "s3cret" {
		t.Fatalf("get: %+v %v", a, err)
	}
	had, err := f.erase(ctx, "localhost:5000")
	if err != nil || !had {
		t.Fatalf("erase: %v %v", had, err)
	}
	if had, _ := f.erase(ctx, "localhost:5000"); had {
		t.Error("erased twice")
	}
}
