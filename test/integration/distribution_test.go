//go:build integration

package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

// distRegistry serves go-containerregistry's test registry on 127.0.0.1
// behind a bearer-token flow for user:pass, and returns host:port.
func distRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	inner := ggcrregistry.New(ggcrregistry.Logger(stdlog.New(io.Discard, "", 0)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`)
				return
			}
			fmt.Fprint(w, `{"token":"good"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer good" {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="test"`, r.Host))
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func encodedAuth(t *testing.T, user, pass, server string) string {
	t.Helper()
	b, err := json.Marshal(registry.AuthConfig{Username: user, Password: pass, ServerAddress: server})
	if err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(b)
}

// drainStream reads a pull or push stream and returns its error message.
func drainStream(t *testing.T, r io.Reader) (string, error) {
	t.Helper()
	dec := json.NewDecoder(r)
	var all strings.Builder
	for {
		var m struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				return all.String(), nil
			}
			return all.String(), err
		}
		if m.Error != "" {
			return all.String(), fmt.Errorf("%s", m.Error)
		}
		all.WriteString(m.Status + "\n")
	}
}

// TestDistribution_PushRemovePullRun pins the round trip of `docker push`,
// `docker rmi` and `docker pull` (docs.docker.com/reference/cli/docker/image/push/,
// .../pull/) through a token-auth registry on 127.0.0.1.
func TestDistribution_PushRemovePullRun(t *testing.T) {
	testutil.Require(t, testutil.Root, testutil.Runc, testutil.Busybox, testutil.Overlay)
	d, err := testutil.StartDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := d.ImportBusybox(ctx, "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	c, err := d.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	host := distRegistry(t, "alice", "secret")
	ref := host + "/e2e/busybox:v1"
	auth := encodedAuth(t, "alice", "secret", host)

	t.Run("login", func(t *testing.T) {
		res, err := c.RegistryLogin(ctx, client.RegistryLoginOptions{Username: "alice", Password: "secret", ServerAddress: host})
		if err != nil || res.Auth.Status != "Login Succeeded" {
			t.Fatalf("login: %+v %v", res, err)
		}
		_, err = c.RegistryLogin(ctx, client.RegistryLoginOptions{Username: "alice", Password: "nope", ServerAddress: host})
		if !errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "incorrect username or password") {
			t.Fatalf("bad login: %v", err)
		}
	})

	if _, err := c.ImageTag(ctx, client.ImageTagOptions{Source: "busybox:latest", Target: ref}); err != nil {
		t.Fatal(err)
	}
	push, err := c.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	out, err := drainStream(t, push)
	push.Close()
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("push output:\n%s", out)
	}

	for _, r := range []string{ref, "busybox:latest"} {
		if _, err := c.ImageRemove(ctx, r, client.ImageRemoveOptions{Force: true}); err != nil {
			t.Fatalf("rmi %s: %v", r, err)
		}
	}
	pull, err := c.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	out, err = drainStream(t, pull)
	pull.Close()
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Pull complete") || !strings.Contains(out, "Status: Downloaded newer image for "+ref) {
		t.Errorf("pull output:\n%s", out)
	}

	insp, err := c.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: auth})
	if err != nil {
		t.Fatal(err)
	}
	if insp.Descriptor.Digest == "" || len(insp.Platforms) != 1 || insp.Platforms[0].OS != "linux" {
		t.Errorf("distribution inspect: %+v", insp.DistributionInspect)
	}

	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: ref, Cmd: []string{"echo", "round trip"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	})
	code, stdout, _ := runToExit(t, c, res.ID)
	if code != 0 || strings.TrimSpace(stdout) != "round trip" {
		t.Fatalf("run: code %d, stdout %q", code, stdout)
	}

	t.Run("docker CLI", func(t *testing.T) {
		testutil.Require(t, testutil.DockerCLI)
		docker, err := exec.LookPath("docker")
		if err != nil {
			t.Fatal(err)
		}
		cfgDir := t.TempDir()
		run := func(args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, docker, append([]string{"-H", d.Host}, args...)...)
			cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfgDir)
			b, err := cmd.CombinedOutput()
			return string(b), err
		}
		if out, err := run("login", "-u", "alice", "-p", "wrong", host); err == nil || !strings.Contains(out, "incorrect username or password") {
			t.Fatalf("docker login with a wrong password: %v\n%s", err, out)
		}
		if out, err := run("login", "-u", "alice", "-p", "secret", host); err != nil || !strings.Contains(out, "Login Succeeded") {
			t.Fatalf("docker login: %v\n%s", err, out)
		}
		cliRef := host + "/e2e/cli:v2"
		if out, err := run("tag", ref, cliRef); err != nil {
			t.Fatalf("docker tag: %v\n%s", err, out)
		}
		if out, err := run("push", cliRef); err != nil || !strings.Contains(out, "v2: digest: sha256:") {
			t.Fatalf("docker push: %v\n%s", err, out)
		}
		if out, err := run("rmi", cliRef); err != nil {
			t.Fatalf("docker rmi: %v\n%s", err, out)
		}
		if out, err := run("pull", cliRef); err != nil || !strings.Contains(out, "Status: ") {
			t.Fatalf("docker pull: %v\n%s", err, out)
		}
	})
}
