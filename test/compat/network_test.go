//go:build compat

package compat

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// netName returns a network name from the test's name, removed at the end.
func netName(t *testing.T) string {
	t.Helper()
	n := strings.ToLower(unsafeName.ReplaceAllString("net-"+t.Name(), "-"))
	t.Cleanup(func() { _ = run(context.Background(), nil, "network", "rm", n) })
	return n
}

// docs.docker.com "Bridge network driver": containers on a user-defined
// bridge resolve each other by name and alias; `network ls` and `inspect`.
func TestNetwork_UserBridgeByName(t *testing.T) {
	n := netName(t)
	ok(t, "network", "create", n)
	if out := ok(t, "network", "ls", "--filter", "name="+n, "--format", "{{.Name}} {{.Driver}} {{.Scope}}"); out != n+" bridge local\n" {
		t.Fatalf("network ls: %q", out)
	}
	srv := ctrName(t, "srv")
	ok(t, "run", "-d", "--name", srv, "--network", n, "--network-alias", "web", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	waitRunning(t, srv)
	out := ok(t, "run", "--rm", "--network", n, "busybox", "sh", "-c", "wget -qO- http://"+srv+"/hostname && wget -qO- http://web/hostname")
	id := inspect(t, "{{.Id}}", srv)[:12]
	if strings.Count(out, id) != 2 {
		t.Fatalf("by name and alias: %q (want %s twice)", out, id)
	}
	if ip := inspect(t, "{{(index .NetworkSettings.Networks \""+n+"\").IPAddress}}", srv); net.ParseIP(ip) == nil {
		t.Fatalf("inspect IPAddress: %q", ip)
	}
	// Docker: removing a network with active endpoints is refused.
	expect(t, docker(t, "network", "rm", n), 1, "has active endpoints")
}

// docs.docker.com "Port publishing": -p HOST:CTR answers on the host's
// 127.0.0.1; `docker port` and `ps` show the mapping.
func TestNetwork_PublishPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	name := ctrName(t)
	ok(t, "run", "-d", "--name", name, "-p", "127.0.0.1:"+port+":80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
	waitRunning(t, name)
	if out := ok(t, "port", name); out != "80/tcp -> 127.0.0.1:"+port+"\n" {
		t.Fatalf("docker port: %q", out)
	}
	if out := ok(t, "ps", "--filter", "name="+name, "--format", "{{.Ports}}"); out != "127.0.0.1:"+port+"->80/tcp\n" {
		t.Fatalf("ps ports: %q", out)
	}
	var body string
	eventually(t, 5*time.Second, func() (bool, string) {
		resp, err := (&http.Client{Timeout: time.Second}).Get("http://127.0.0.1:" + port + "/hostname")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return true, body
	})
	if !strings.Contains(body, inspect(t, "{{.Id}}", name)[:12]) {
		t.Fatalf("published port answered %q", body)
	}
	other := ctrName(t, "dup")
	expect(t, docker(t, "run", "-d", "--name", other, "-p", "127.0.0.1:"+port+":80", "busybox", "true"), 125, "port is already allocated")
}

// docs.docker.com "Volumes": a named volume outlives its containers, `-v`
// and `--mount` share it, and `volume rm` of a volume in use is refused.
func TestVolume_NamedVolume(t *testing.T) {
	vol := strings.ToLower(unsafeName.ReplaceAllString("vol-"+t.Name(), "-"))
	t.Cleanup(func() { _ = run(context.Background(), nil, "volume", "rm", "-f", vol) })
	if out := ok(t, "volume", "create", vol); out != vol+"\n" {
		t.Fatalf("volume create: %q", out)
	}
	ok(t, "run", "--rm", "-v", vol+":/data", "busybox", "sh", "-c", "echo persisted > /data/f")
	if out := ok(t, "run", "--rm", "--mount", "type=volume,src="+vol+",dst=/d,readonly", "busybox", "cat", "/d/f"); out != "persisted\n" {
		t.Fatalf("read back: %q", out)
	}
	name := ctrName(t)
	ok(t, "create", "--name", name, "-v", vol+":/data", "busybox", "true")
	expect(t, docker(t, "volume", "rm", vol), 1, "volume is in use")
	if out := ok(t, "volume", "ls", "--filter", "name="+vol, "--format", "{{.Driver}} {{.Name}}"); out != "local "+vol+"\n" {
		t.Fatalf("volume ls: %q", out)
	}
}
