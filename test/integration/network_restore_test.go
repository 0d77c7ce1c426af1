//go:build integration

package integration

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"berth/internal/testutil"
)

func fetch(port string) (string, error) {
	resp, err := (&http.Client{Timeout: 500 * time.Millisecond}).Get("http://127.0.0.1:" + port + "/hostname")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func fetchEventually(port string) (string, error) {
	var out string
	var err error
	for i := 0; i < 50; i++ {
		if out, err = fetch(port); err == nil {
			return out, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out, err
}

// nftRules returns berth's rules that mention the container.
func nftRules(t *testing.T, id string) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "ruleset").Output()
	if err != nil {
		t.Fatalf("nft: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, id[:12]) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// Port rules survive a daemon killed with SIGKILL (rebuilt at start, the
// container still answering on its user network), and are gone with rm.
func TestNetwork_RulesRebuiltAfterRestartAndGoneAfterRm(t *testing.T) {
	d, err := testutil.StartDaemon()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Cleanup)
	if err := d.ImportBusybox(t.Context(), "busybox:latest"); err != nil {
		t.Fatal(err)
	}
	c, err := d.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NetworkCreate(t.Context(), "rnet", client.NetworkCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p80 := network.MustParsePort("80/tcp")
	id := create(t, c, "web", &container.Config{Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/etc"}},
		&container.HostConfig{NetworkMode: "rnet", PortBindings: network.PortMap{p80: {{HostPort: port}}}})
	startC(t, c, id)
	if out, err := fetchEventually(port); err != nil || !strings.Contains(out, id[:12]) {
		t.Fatalf("before restart: %q %v", out, err)
	}
	c.Close()
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	c, err = d.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := fetchEventually(port); err != nil || !strings.Contains(out, id[:12]) {
		t.Fatalf("after restart: %q %v", out, err)
	}
	if rules := nftRules(t, id); rules == "" {
		t.Fatal("no rules for the container after the restart")
	}
	// A second container resolves the restored one by name (DNS restarted).
	cl := create(t, c, "", &container.Config{Cmd: []string{"wget", "-qO-", "http://web/hostname"}}, &container.HostConfig{NetworkMode: "rnet"})
	if code, out, _ := runToExit(t, c, cl); code != 0 || !strings.Contains(out, id[:12]) {
		t.Fatalf("name resolution after restart: %d %q", code, out)
	}
	if _, err := c.ContainerRemove(t.Context(), id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if rules := nftRules(t, id); rules != "" {
		t.Fatalf("rules left after rm:\n%s", rules)
	}
	if _, err := fetch(port); err == nil {
		t.Fatal("the port still answers after rm")
	}
}
