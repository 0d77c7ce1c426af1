package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func testNetworks() []network.Summary {
	created := time.Date(2026, 11, 24, 17, 0, 0, 123456789, time.UTC)
	return []network.Summary{
		{Network: network.Network{Name: "mynet10", ID: "ffb2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", Driver: "bridge", Scope: "local", Created: created,
			EnableIPv4: true, EnableIPv6: true, Internal: true, Labels: map[string]string{"b": "2", "a": "1"}}},
		{Network: network.Network{Name: "bridge", ID: "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", Driver: "bridge", Scope: "local", Created: created, EnableIPv4: true}},
		{Network: network.Network{Name: "mynet9", ID: "00b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4", Driver: "bridge", Scope: "local", Created: created, EnableIPv4: true}},
		{Network: network.Network{Name: "host", ID: "0000000000000000aaaa", Driver: "host", Scope: "local", Created: created}},
	}
}

func TestNetworkList_Formats(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		quiet   bool
		noTrunc bool
		want    string
	}{
		{name: "table", want: "NETWORK ID     NAME      DRIVER    SCOPE\n" +
			"a1b2c3d4e5f6   bridge    bridge    local\n" +
			"0000000000000000aaaa"[:12] + "   host      host      local\n" +
			"00b2c3d4e5f6   mynet9    bridge    local\n" +
			"ffb2c3d4e5f6   mynet10   bridge    local\n"},
		{name: "quiet", quiet: true, want: "a1b2c3d4e5f6\n000000000000\n00b2c3d4e5f6\nffb2c3d4e5f6\n"},
		{name: "quiet no-trunc", quiet: true, noTrunc: true,
			want: "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\n0000000000000000aaaa\n00b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\nffb2c3d4e5f6a1b2c3d4e5f6a1b2c3d4\n"},
		{name: "template", format: `{{.Name}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label "a"}}`,
			want: "bridge true false false  \nhost false false false  \nmynet9 true false false  \nmynet10 true true true a=1,b=2 1\n"},
		{name: "created", format: "table {{.Name}}\t{{.CreatedAt}}",
			want: "NAME      CREATED AT\nbridge    2026-11-24 17:00:00.123456789 +0000 UTC\nhost      2026-11-24 17:00:00.123456789 +0000 UTC\n" +
				"mynet9    2026-11-24 17:00:00.123456789 +0000 UTC\nmynet10   2026-11-24 17:00:00.123456789 +0000 UTC\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := writeList(&b, listFormat{format: tc.format, quiet: tc.quiet, defaultTable: defaultNetworkTable, quietFormat: networkQuietFormat},
				networkRows(testNetworks(), !tc.noTrunc))
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", b.String(), tc.want)
			}
		})
	}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{format: "json"}, networkRows(testNetworks()[:1], true)); err != nil {
		t.Fatal(err)
	}
	want := `{"CreatedAt":"2026-11-24 17:00:00.123456789 +0000 UTC","Driver":"bridge","ID":"ffb2c3d4e5f6","IPv4":"true","IPv6":"true","Internal":"true","Labels":"a=1,b=2","Name":"mynet10","Scope":"local"}` + "\n"
	if b.String() != want {
		t.Fatalf("json: %s", b.String())
	}
}

// networkDaemon is a fake daemon with the /networks endpoints; bodies
// records each POST body by path.
func networkDaemon(t *testing.T) (*fakeDaemon, map[string]string) {
	d := newFakeDaemon(t)
	bodies := map[string]string{}
	record := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d.mu.Lock()
		bodies[d.prefix.ReplaceAllString(r.URL.Path, "")] = string(b)
		d.mu.Unlock()
	}
	d.on("GET /networks", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, testNetworks()) })
	d.on("GET /networks/mynet9", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("verbose") == "true" {
			w.Header().Set("X-Verbose", "1")
		}
		writeJSON(w, network.Inspect{Network: testNetworks()[2].Network})
	})
	d.on("GET /networks/nope", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "network nope not found")
	})
	d.on("DELETE /networks/mynet9", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	d.on("DELETE /networks/nope", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusNotFound, "network nope not found")
	})
	d.on("DELETE /networks/busy", func(w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusForbidden, "error while removing network: network busy has active endpoints")
	})
	d.on("POST /networks/create", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		writeJSON(w, network.CreateResponse{ID: strings.Repeat("ab", 32)})
	})
	d.on("POST /networks/n1/connect", func(w http.ResponseWriter, r *http.Request) { record(r); w.WriteHeader(http.StatusOK) })
	d.on("POST /networks/n1/disconnect", func(w http.ResponseWriter, r *http.Request) { record(r); w.WriteHeader(http.StatusOK) })
	d.on("POST /networks/prune", func(w http.ResponseWriter, r *http.Request) {
		bodies["prune"] = r.URL.Query().Get("filters")
		writeJSON(w, network.PruneReport{NetworksDeleted: []string{"mynet9", "mynet10"}})
	})
	d.on("GET /containers/json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, []container.Summary{
			{ID: "c1", State: container.StateRunning, NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{"mynet10": {NetworkID: testNetworks()[0].ID}}}},
			// A stopped container holds no endpoint: its network is pruned.
			{ID: "c2", State: container.StateExited, NetworkSettings: &container.NetworkSettingsSummary{
				Networks: map[string]*network.EndpointSettings{"mynet9": {NetworkID: testNetworks()[2].ID}}}},
		})
	})
	return d, bodies
}

func TestMain_NetworkCommands(t *testing.T) {
	d, _ := networkDaemon(t)
	id := strings.Repeat("ab", 32)
	tests := []struct {
		name           string
		args           []string
		stdin          string
		code           int
		stdout, stderr string
	}{
		{name: "ls", args: []string{"network", "ls", "-q"}, stdout: "a1b2c3d4e5f6\n000000000000\n00b2c3d4e5f6\nffb2c3d4e5f6\n"},
		{name: "inspect format", args: []string{"network", "inspect", "-f", "{{.Name}} {{.Driver}}", "mynet9"}, stdout: "mynet9 bridge\n"},
		{name: "inspect missing", args: []string{"network", "inspect", "nope", "-f", "{{.Name}}", "mynet9"}, code: 1,
			stdout: "mynet9\n", stderr: "Error response from daemon: network nope not found\n"},
		{name: "rm", args: []string{"network", "rm", "mynet9", "nope", "busy"}, code: 1, stdout: "mynet9\n",
			stderr: "Error response from daemon: network nope not found\nError response from daemon: error while removing network: network busy has active endpoints\nexit status 1\n"},
		{name: "rm force", args: []string{"network", "remove", "-f", "nope"}},
		{name: "create", args: []string{"network", "create", "n1"}, stdout: id + "\n"},
		{name: "create no name", args: []string{"network", "create"}, code: 1,
			stderr: "berth: 'berth network create' requires 1 argument\n\nUsage:  berth network create [OPTIONS] NETWORK\n\nRun 'berth network create --help' for more information\n"},
		{name: "create bad gateway", args: []string{"network", "create", "--subnet", "10.0.0.0/16", "--gateway", "10.9.0.1", "x"}, code: 1,
			stderr: "no matching subnet for gateway 10.9.0.1\n"},
		{name: "connect", args: []string{"network", "connect", "n1", "web"}},
		{name: "connect bad ip", args: []string{"network", "connect", "--ip", "bogus", "n1", "web"}, code: 125,
			stderr: "invalid argument \"bogus\" for \"--ip\" flag: invalid string being converted to IP address: bogus\n\nUsage:  berth network connect [OPTIONS] NETWORK CONTAINER\n\nRun 'berth network connect --help' for more information\n"},
		{name: "disconnect", args: []string{"network", "disconnect", "-f", "n1", "web"}},
		{name: "prune declined", args: []string{"network", "prune"}, stdin: "n\n", stdout: networkPruneWarning + " [y/N] "},
		{name: "prune", args: []string{"network", "prune"}, stdin: "y\n", stdout: networkPruneWarning + " [y/N] Deleted Networks:\nmynet9\nmynet10\n\n"},
		{name: "prune forced", args: []string{"network", "prune", "-f", "--filter", "until=1h"}, stdout: "Deleted Networks:\nmynet9\nmynet10\n\n"},
		{name: "prune dry run", args: []string{"network", "prune", "--dry-run"}, stdout: "Would delete Networks:\nmynet9\n\n"},
		{name: "prune dry run label", args: []string{"network", "prune", "--dry-run", "--filter", "label=a"}},
		{name: "inspect bad template", args: []string{"network", "inspect", "-f", "{{json", "mynet9"}, code: 64,
			stderr: "template parsing error: template: :1: unclosed action\n"},
		{name: "prune dry run bad filter", args: []string{"network", "prune", "--dry-run", "--filter", "bogus=1"}, code: 1, stderr: "invalid filter 'bogus'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := d.run(tc.stdin, tc.args...)
			if code != tc.code || out != tc.stdout || errOut != tc.stderr {
				t.Fatalf("got exit %d stdout %q stderr %q\nwant exit %d stdout %q stderr %q", code, out, errOut, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestMain_NetworkRequests(t *testing.T) {
	d, bodies := networkDaemon(t)
	decode := func(path string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(bodies[path]), v); err != nil {
			t.Fatalf("%s: %v (%q)", path, err, bodies[path])
		}
	}
	if _, errOut, code := d.run("", "network", "create", "--subnet", "10.5.0.0/16", "--gateway", "10.5.0.1", "--ip-range", "10.5.1.0/24",
		"--internal", "--label", "a=b", "--label", "c", "-o", "x=y", "--ipv6", "--subnet", "fd00::/64", "-d", "bridge", "n1"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	var req network.CreateRequest
	decode("/networks/create", &req)
	ipam, _ := json.Marshal(req.IPAM)
	if req.Name != "n1" || req.Driver != "bridge" || !req.Internal || req.EnableIPv6 == nil || !*req.EnableIPv6 || req.EnableIPv4 != nil ||
		req.Labels["a"] != "b" || req.Labels["c"] != "" || req.Options["x"] != "y" ||
		string(ipam) != `{"Driver":"default","Options":{},"Config":[{"Subnet":"10.5.0.0/16","IPRange":"10.5.1.0/24","Gateway":"10.5.0.1"},{"Subnet":"fd00::/64"}]}` {
		t.Fatalf("create request: %s", bodies["/networks/create"])
	}
	if _, errOut, code := d.run("", "network", "connect", "--alias", "a1", "--alias", "a2,a3", "--ip", "10.5.0.9", "--ip6", "fd00::9",
		"--driver-opt", "k=v", "--link", "db:db", "n1", "web"); code != 0 {
		t.Fatalf("connect: %s", errOut)
	}
	var conn network.ConnectRequest
	decode("/networks/n1/connect", &conn)
	ep := conn.EndpointConfig
	if conn.Container != "web" || ep == nil || strings.Join(ep.Aliases, ",") != "a1,a2,a3" || ep.IPAMConfig == nil ||
		ep.IPAMConfig.IPv4Address.String() != "10.5.0.9" || ep.IPAMConfig.IPv6Address.String() != "fd00::9" ||
		ep.DriverOpts["k"] != "v" || strings.Join(ep.Links, ",") != "db:db" {
		t.Fatalf("connect request: %s", bodies["/networks/n1/connect"])
	}
	if _, _, code := d.run("", "network", "disconnect", "--force", "n1", "web"); code != 0 {
		t.Fatal("disconnect failed")
	}
	var disc network.DisconnectRequest
	decode("/networks/n1/disconnect", &disc)
	if disc.Container != "web" || !disc.Force {
		t.Fatalf("disconnect request: %s", bodies["/networks/n1/disconnect"])
	}
	d.run("", "network", "prune", "-f", "--filter", "label=a")
	if !strings.Contains(bodies["prune"], `"label":{"a":true}`) {
		t.Fatalf("prune filters: %q", bodies["prune"])
	}
}

func TestMain_InspectFindsNetworksAndVolumes(t *testing.T) {
	d, _ := networkDaemon(t)
	for _, p := range []string{"GET /containers/mynet9/json", "GET /images/mynet9/json"} {
		d.on(p, func(w http.ResponseWriter, _ *http.Request) { apiError(w, http.StatusNotFound, "No such object") })
	}
	out, errOut, code := d.run("", "inspect", "-f", "{{.Name}} {{.Scope}}", "mynet9")
	if code != 0 || out != "mynet9 local\n" {
		t.Fatalf("inspect: %d %q %q", code, out, errOut)
	}
	_, errOut, code = d.run("", "inspect", "--type", "bogus", "x")
	if code != 1 || errOut != "\"bogus\" is not a valid value for --type\n" {
		t.Fatalf("bad type: %d %q", code, errOut)
	}
}
