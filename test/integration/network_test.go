//go:build integration

package integration

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

func mkNetwork(t *testing.T, c *client.Client, name string, o client.NetworkCreateOptions) string {
	t.Helper()
	res, err := c.NetworkCreate(t.Context(), name, o)
	if err != nil {
		t.Fatalf("network create %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = c.NetworkRemove(context.Background(), res.ID, client.NetworkRemoveOptions{}) })
	return res.ID
}

func startC(t *testing.T, c *client.Client, id string) {
	t.Helper()
	if _, err := c.ContainerStart(t.Context(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start: %v", err)
	}
}

// Two containers on a user network resolve and reach each other by name
// and alias through the embedded DNS.
func TestNetwork_UserNetworkDNSAndReach(t *testing.T) {
	c := apiClient(t)
	net1 := name(t, "net")
	mkNetwork(t, c, net1, client.NetworkCreateOptions{})
	srv := create(t, c, name(t, "srv"), &container.Config{Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/etc"}},
		&container.HostConfig{NetworkMode: container.NetworkMode(net1)})
	startC(t, c, srv)
	cli := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "wget -qO- http://" + name(t, "srv") + "/hostname && nslookup " + name(t, "srv") + " 127.0.0.11 >/dev/null && echo resolved"}},
		&container.HostConfig{NetworkMode: container.NetworkMode(net1)})
	code, out, errOut := runToExit(t, c, cli)
	if code != 0 || !strings.Contains(out, srv[:12]) || !strings.Contains(out, "resolved") {
		t.Fatalf("client: exit %d out %q err %q", code, out, errOut)
	}
	ins := inspect(t, c, srv)
	ep := ins.NetworkSettings.Networks[net1]
	if ep == nil || !ep.IPAddress.IsValid() || !ep.Gateway.IsValid() {
		t.Fatalf("inspect networks: %+v", ins.NetworkSettings.Networks)
	}
	// Removing a network in use is a conflict.
	if _, err := c.NetworkRemove(t.Context(), net1, client.NetworkRemoveOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("remove network in use: %v", err)
	}
}

// Containers on different user networks cannot reach each other; an
// --internal network has no way out.
func TestNetwork_IsolationAndInternal(t *testing.T) {
	c := apiClient(t)
	a, b := name(t, "a"), name(t, "b")
	mkNetwork(t, c, a, client.NetworkCreateOptions{})
	mkNetwork(t, c, b, client.NetworkCreateOptions{Internal: true})
	srv := create(t, c, "", &container.Config{Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/etc"}}, &container.HostConfig{NetworkMode: container.NetworkMode(a)})
	startC(t, c, srv)
	ip := inspect(t, c, srv).NetworkSettings.Networks[a].IPAddress.String()
	other := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "wget -T 1 -qO- http://" + ip + "/hostname"}}, &container.HostConfig{NetworkMode: container.NetworkMode(b)})
	if code, out, _ := runToExit(t, c, other); code == 0 {
		t.Fatalf("reached a container on another network: %q", out)
	}
	// The internal network has no default route out.
	in := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "ip route | grep -c default || true"}}, &container.HostConfig{NetworkMode: container.NetworkMode(b)})
	if _, out, _ := runToExit(t, c, in); strings.TrimSpace(out) != "0" {
		t.Fatalf("internal network has a default route: %q", out)
	}
}

// A published port answers from the host over 127.0.0.1, without a proxy
// process; a taken port is refused cleanly.
func TestNetwork_PublishedPort(t *testing.T) {
	c := apiClient(t)
	port := freePort(t)
	p80 := network.MustParsePort("80/tcp")
	hc := &container.HostConfig{PortBindings: network.PortMap{p80: {{HostPort: port}}}}
	srv := create(t, c, name(t, "srv"), &container.Config{Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/etc"}, ExposedPorts: network.PortSet{p80: {}}}, hc)
	startC(t, c, srv)
	var body string
	for i := 0; i < 50; i++ {
		resp, err := (&http.Client{Timeout: time.Second}).Get("http://127.0.0.1:" + port + "/hostname")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, srv[:12]) {
		t.Fatalf("published port answered %q", body)
	}
	ports := inspect(t, c, srv).NetworkSettings.Ports[p80]
	if len(ports) != 1 || ports[0].HostPort != port {
		t.Fatalf("inspect ports: %+v", ports)
	}
	dup := create(t, c, "", &container.Config{Cmd: []string{"true"}}, hc)
	_, err := c.ContainerStart(t.Context(), dup, client.ContainerStartOptions{})
	if err == nil || !strings.Contains(err.Error(), "port is already allocated") {
		t.Fatalf("second publisher of the port: %v", err)
	}
	if st := inspect(t, c, dup).State; st.Running || st.Pid != 0 {
		t.Fatalf("failed start left the container running: %+v", st)
	}
	// No proxy process: nothing in berth listens on the port.
	if l, err := net.Listen("tcp", "127.0.0.1:"+port); err != nil {
		t.Fatalf("the host port is held by a process: %v", err)
	} else {
		l.Close()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

// Bad input: overlapping subnets, an address outside the subnet, removing
// a predefined network.
func TestNetwork_BadInput(t *testing.T) {
	c := apiClient(t)
	n1 := name(t, "one")
	mkNetwork(t, c, n1, client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.99.0.0/24")}}}})
	_, err := c.NetworkCreate(t.Context(), name(t, "two"), client.NetworkCreateOptions{IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("10.99.0.0/16")}}}})
	if err == nil || !strings.Contains(err.Error(), "Pool overlaps with other one on this address space") {
		t.Fatalf("overlapping subnet: %v", err)
	}
	id := create(t, c, "", &container.Config{Cmd: []string{"true"}}, &container.HostConfig{NetworkMode: container.NetworkMode(n1)})
	if _, err := c.NetworkConnect(t.Context(), n1, client.NetworkConnectOptions{Container: id}); err == nil {
		t.Fatal("connecting twice succeeded")
	}
	bad := create(t, c, "", &container.Config{Cmd: []string{"true"}}, nil)
	_, _ = c.NetworkDisconnect(t.Context(), "bridge", client.NetworkDisconnectOptions{Container: bad})
	_, err = c.NetworkConnect(t.Context(), n1, client.NetworkConnectOptions{Container: bad, EndpointConfig: &network.EndpointSettings{IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr("10.98.0.5")}}})
	if err == nil {
		if _, err = c.ContainerStart(t.Context(), bad, client.ContainerStartOptions{}); err == nil || !strings.Contains(err.Error(), "no configured subnet or ip-range contain the IP address") {
			t.Fatalf("address outside the subnet: %v", err)
		}
	}
	if _, err := c.NetworkRemove(t.Context(), "bridge", client.NetworkRemoveOptions{}); !errdefs.IsPermissionDenied(err) {
		t.Fatalf("removing the predefined bridge: %v", err)
	}
}
