package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"berth/internal/testutil"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		in       string
		comm     string
		ppid     int
		wantFail bool
	}{
		{in: "123 (berthd) S 1 123 123 0 -1", comm: "berthd", ppid: 1},
		{in: "7 (a b) c)) R 42 7 7", comm: "a b) c)", ppid: 42},
		{in: "9 (containerd-shim) S 4711 9", comm: "containerd-shim", ppid: 4711},
		{in: "9 (x) S", wantFail: true},
		{in: "9 x S 1", wantFail: true},
		{in: "9 (x) S notanumber", wantFail: true},
		{in: "", wantFail: true},
	}
	for _, tt := range tests {
		comm, ppid, err := parseStat([]byte(tt.in))
		if (err != nil) != tt.wantFail {
			t.Errorf("parseStat(%q) error = %v, want failure %v", tt.in, err, tt.wantFail)
			continue
		}
		if !tt.wantFail && (comm != tt.comm || ppid != tt.ppid) {
			t.Errorf("parseStat(%q) = %q, %d; want %q, %d", tt.in, comm, ppid, tt.comm, tt.ppid)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"/bin/berthd\x00shim\x00/run/x/shim.json\x00", []string{"/bin/berthd", "shim", "/run/x/shim.json"}},
		{"sleep\x00\x003600\x00", []string{"sleep", "", "3600"}},
	}
	for _, tt := range tests {
		if got := parseCmdline([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCmdline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMemField(t *testing.T) {
	const rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:               10240 kB\nPss:                2675 kB\nPss_Anon:           1000 kB\n"
	tests := []struct {
		in, key  string
		want     int64
		wantFail bool
	}{
		{in: rollup, key: "Pss:", want: 2675},
		{in: rollup, key: "Rss:", want: 10240},
		{in: "Name:\tberthd\nVmRSS:\t   11012 kB\n", key: "VmRSS:", want: 11012},
		{in: rollup, key: "VmRSS:", wantFail: true},
		{in: "Pss:\n", key: "Pss:", wantFail: true},
		{in: "Pss: lots kB\n", key: "Pss:", wantFail: true},
	}
	for _, tt := range tests {
		got, err := memField(strings.NewReader(tt.in), tt.key)
		if (err != nil) != tt.wantFail || got != tt.want {
			t.Errorf("memField(%q) = %d, %v; want %d, failure %v", tt.key, got, err, tt.want, tt.wantFail)
		}
	}
}

func TestMountsUnder(t *testing.T) {
	info := strings.Join([]string{
		"22 1 254:0 / / rw - ext4 /dev/vda rw",
		"100 22 0:50 / /tmp/w rw - tmpfs tmpfs rw",
		"101 100 0:51 / /tmp/w/docker/data/overlay2/abc/merged rw - overlay overlay rw",
		"102 100 0:52 / /tmp/w/a\\040b rw - tmpfs tmpfs rw",
		"103 22 0:53 / /tmp/wx rw - tmpfs tmpfs rw",
		"104 100 0:4 net:[1] /tmp/w/docker/run/netns/x rw - nsfs nsfs rw",
		"short line",
	}, "\n")
	got, err := mountsUnder(strings.NewReader(info), "/tmp/w/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/tmp/w/docker/data/overlay2/abc/merged",
		"/tmp/w/docker/run/netns/x",
		"/tmp/w/a b",
		"/tmp/w",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder = %q, want %q", got, want)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	tests := []struct{ in, want string }{
		{`/plain`, `/plain`},
		{`/a\040b`, `/a b`},
		{`/tab\011x\134y`, "/tab\tx\\y"},
		{`/short\04`, `/short\04`},
		{`/bad\09x`, `/bad\09x`},
		{`/end\`, `/end\`},
	}
	for _, tt := range tests {
		if got := unescapeMountinfo(tt.in); got != tt.want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		in   []time.Duration
		want time.Duration
		ok   bool
	}{
		{nil, 0, false},
		{[]time.Duration{5 * ms}, 5 * ms, true},
		{[]time.Duration{9 * ms, 1 * ms, 5 * ms}, 5 * ms, true},
		{[]time.Duration{4 * ms, 1 * ms, 2 * ms, 100 * ms}, 3 * ms, true},
	}
	for _, tt := range tests {
		orig := append([]time.Duration(nil), tt.in...)
		got, ok := median(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if !reflect.DeepEqual(orig, tt.in) {
			t.Errorf("median reordered its input: %v", tt.in)
		}
	}
	lo, hi := spread([]time.Duration{3, 1, 7, 2})
	if lo != 1 || hi != 7 {
		t.Errorf("spread = %v, %v; want 1, 7", lo, hi)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b, goal float64
		r, met     string
	}{
		{30, 100, 0.4, "0.30", "yes"},
		{40, 100, 0.4, "0.40", "yes"},
		{50, 100, 0.4, "0.50", "no"},
		{50, 0, 0.4, "–", "n/a"},
		{0, 100, 0.4, "–", "n/a"},
	}
	for _, tt := range tests {
		if r, met := ratio(tt.a, tt.b, tt.goal); r != tt.r || met != tt.met {
			t.Errorf("ratio(%v, %v, %v) = %q, %q; want %q, %q", tt.a, tt.b, tt.goal, r, met, tt.r, tt.met)
		}
	}
}

func TestPerContainerPSS(t *testing.T) {
	r := &engineResult{started: 10, shimPSS: 20000, idlePSS: 10000, loadedPSS: 11000}
	if v, ok := r.perContainerPSS(); !ok || v != 2100 {
		t.Errorf("perContainerPSS = %v, %v; want 2100, true", v, ok)
	}
	if _, ok := (&engineResult{}).perContainerPSS(); ok {
		t.Error("perContainerPSS of an engine without containers reported a value")
	}
}

func TestReportWrite(t *testing.T) {
	ms := time.Millisecond
	rp := &report{
		runs: 3, containers: 2, engines: []string{"berth", "docker"},
		results: map[string]*engineResult{
			"berth": {runDefault: []time.Duration{10 * ms, 12 * ms, 11 * ms}, runNone: []time.Duration{10 * ms},
				started: 2, startAll: time.Second, hasDaemon: true, idleRSS: 10240, loadedRSS: 12288,
				idlePSS: 9000, loadedPSS: 9200, shimPSS: 4000, shimCount: 2, shimName: "berthd", daemonNames: "berthd"},
			"docker": {runDefault: []time.Duration{100 * ms}, runNone: []time.Duration{50 * ms},
				started: 2, startAll: 4 * time.Second, hasDaemon: true, idleRSS: 102400, loadedRSS: 122880,
				idlePSS: 90000, loadedPSS: 91000, shimPSS: 9000, shimCount: 2, shimName: "containerd-shim", daemonNames: "dockerd + containerd"},
		},
		runcFloor: []time.Duration{4 * ms},
		httpMB:    64, httpFetches: 2, httpPort: 18080,
	}
	rp.results["berth"].runNet, rp.results["berth"].hasNet = []time.Duration{22 * ms}, true
	rp.results["berth"].httpPublished, rp.results["berth"].httpDirect = []float64{1900, 2100}, []float64{2100, 2100}
	rp.results["docker"].httpPublished, rp.results["docker"].httpProxies = []float64{600, 800}, 1
	var b bytes.Buffer
	rp.write(&b)
	out := b.String()
	for _, want := range []string{
		"| measurement | berth | docker | runc floor |",
		"| `run --rm busybox true`, median ms (min–max), n=3 | 11.0 (10.0–12.0) | 100.0 (100.0–100.0) | – |",
		"| memory added per running container, PSS KiB | 2100 | 5000 | – |",
		"| `run --rm`: berth / docker | 0.11 | ≤ 0.40 | yes |",
		"| `run --rm --network none`: berth / runc floor | 2.50 | ≤ 2.00 | no |",
		"| 2 × `run -d`: berth / docker | 0.25 | ≤ 0.30 | yes |",
		"| daemon RSS idle: berthd / (dockerd + containerd) | 0.10 | ≤ 0.25 | yes |",
		"| `run --rm --network bench-net busybox true` (user-defined bridge), median ms | 22.0 (22.0–22.0) | – | – |",
		"| … network set-up: median(`bench-net`) − median(`none`), ms (median of per-round differences) | 12.0 (12.0) | – | – |",
		"| HTTP GET of 64 MiB through `-p 127.0.0.1:18080:80`, MB/s median (min–max), n=2 | 2000 (1900–2100) | 700 (600–800) via docker-proxy | – |",
		"| network set-up: berth median(`--network bench-net`) − median(`--network none`) | 12.0 ms (per-round: 12.0 ms) | ≤ 15 ms | yes |",
		"| published-port throughput: berth / docker (userland proxy) | 2.86 | ≥ 2.00 | yes |",
		"| published-port throughput: berth published / berth direct | 0.95 | ≥ 0.90 | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestParseFlags(t *testing.T) {
	var errb bytes.Buffer
	if _, err := parseFlags([]string{"-n", "0"}, &errb); err == nil {
		t.Error("-n 0 accepted")
	}
	if _, err := parseFlags([]string{"-bogus"}, &errb); err == nil {
		t.Error("unknown flag accepted")
	}
	for _, bad := range [][]string{{"-http-mb", "0"}, {"-http-fetches", "0"}, {"-http-port", "70000"}} {
		if _, err := parseFlags(bad, &errb); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	o, err := parseFlags([]string{"-n", "7", "-containers", "3"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if o.runs != 7 || o.containers != 3 || !strings.HasPrefix(o.berthd, "/") {
		t.Errorf("parseFlags = %+v", o)
	}
}

func TestMakeSpecBundle(t *testing.T) {
	tmp := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(tmp, "rootfs.tar")
	engineDir := filepath.Join(tmp, "berth")
	hosts := filepath.Join(engineDir, "data", "hosts")
	if err := os.MkdirAll(filepath.Dir(hosts), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{tarPath: tb.Bytes(), hosts: []byte("127.0.0.1 localhost\n")} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw := `{"ociVersion":"1.3.0","process":{"args":["sleep","3600"],"terminal":true},
		"root":{"path":"/elsewhere"},"hooks":{"prestart":[{"path":"/x"}]},
		"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
		          {"destination":"/etc/hosts","type":"bind","source":"` + hosts + `"}],
		"linux":{"cgroupsPath":"/berth/abc","namespaces":[{"type":"pid"},{"type":"network","path":"/run/berth/netns/abc"}]}}`
	dir := filepath.Join(tmp, "bundle")
	files := bindSources([]byte(raw), engineDir)
	if len(files) != 1 {
		t.Fatalf("bindSources = %q, want only %s", files, hosts)
	}
	if err := os.Remove(hosts); err != nil {
		t.Fatal(err)
	}
	b, err := makeSpecBundle(context.Background(), dir, tarPath, []byte(raw), files, "cg")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.prepare("spec-3"); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Process struct {
			Args     []string
			Terminal bool
		}
		Root   struct{ Path string }
		Hooks  any
		Mounts []struct{ Destination, Source string }
		Linux  struct {
			CgroupsPath string
			Namespaces  []map[string]string
		}
	}
	if err := json.Unmarshal(cfg, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Process.Args, []string{"true"}) || got.Process.Terminal {
		t.Errorf("process = %+v", got.Process)
	}
	if got.Root.Path != filepath.Join(dir, "rootfs") || got.Hooks != nil || got.Linux.CgroupsPath != "/cg/spec-3" {
		t.Errorf("root %q, hooks %v, cgroupsPath %q", got.Root.Path, got.Hooks, got.Linux.CgroupsPath)
	}
	if want := []map[string]string{{"type": "pid"}, {"type": "network"}}; !reflect.DeepEqual(got.Linux.Namespaces, want) {
		t.Errorf("namespaces = %v, want %v", got.Linux.Namespaces, want)
	}
	if got.Mounts[0].Source != "proc" || !strings.HasPrefix(got.Mounts[1].Source, dir+"/") {
		t.Errorf("mounts = %+v", got.Mounts)
	}
	if b, err := os.ReadFile(got.Mounts[1].Source); err != nil || string(b) != "127.0.0.1 localhost\n" {
		t.Errorf("copied hosts = %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "rootfs", "bin")); err != nil || !fi.IsDir() {
		t.Errorf("rootfs not unpacked: %v", err)
	}
}

func TestNSDialerAndFetch(t *testing.T) {
	nsPath := testutil.EnterNetNS(t)
	const size = 3<<20 + 17
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			_, _ = w.Write(make([]byte, size))
		case "/short":
			_, _ = w.Write([]byte("tiny"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	d, err := newNSDialer(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	c := d.client()
	ctx := context.Background()
	buf := make([]byte, 64<<10)
	tests := []struct {
		path     string
		want     int64
		wantFail bool
	}{
		{"/big", size, false},
		{"/big", 0, false},
		{"/short", size, true},
		{"/missing", 0, true},
	}
	for _, tt := range tests {
		n, dur, err := fetch(ctx, c, srv.URL+tt.path, tt.want, buf)
		if (err != nil) != tt.wantFail {
			t.Errorf("fetch %s: %v, want failure %v", tt.path, err, tt.wantFail)
			continue
		}
		if !tt.wantFail && (n != size || dur <= 0) {
			t.Errorf("fetch %s = %d bytes in %v, want %d", tt.path, n, dur, size)
		}
	}
	if _, err := d.dial(ctx, "tcp", "localhost:80"); err == nil {
		t.Error("dial of a host name accepted")
	}
	if _, err := d.dial(ctx, "udp", "127.0.0.1:80"); err == nil {
		t.Error("dial of udp accepted")
	}
	if _, err := newNSDialer(filepath.Join(t.TempDir(), "nonexistent")); err == nil {
		t.Error("newNSDialer of a missing path succeeded")
	}
}

func TestMbps(t *testing.T) {
	if got := mbps(64<<20, time.Second/2); got < 134.21 || got > 134.22 {
		t.Errorf("mbps = %v, want 134.2", got)
	}
	if got := mbps(1, 0); got != 0 {
		t.Errorf("mbps over no time = %v, want 0", got)
	}
}

func TestNetCost(t *testing.T) {
	ms := time.Millisecond
	r := &engineResult{
		runNone: []time.Duration{60 * ms, 70 * ms, 100 * ms},
		runNet:  []time.Duration{72 * ms, 80 * ms, 90 * ms},
	}
	diff, paired, ok := r.netCost()
	if !ok || diff != 10 || paired != 10 {
		t.Errorf("netCost = %v, %v, %v; want 10, 10, true", diff, paired, ok)
	}
	if _, _, ok := (&engineResult{runNone: r.runNone}).netCost(); ok {
		t.Error("netCost without --network bench-net runs reported a value")
	}
}

func TestMedianFAndMBCell(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
		cell string
	}{
		{nil, 0, "–"},
		{[]float64{5}, 5, "5 (5–5)"},
		{[]float64{900, 100, 500}, 500, "500 (100–900)"},
		{[]float64{4, 1, 2, 100}, 3, "3 (1–100)"},
	}
	for _, tt := range tests {
		orig := append([]float64(nil), tt.in...)
		if got := medianF(tt.in); got != tt.want {
			t.Errorf("medianF(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if got := mbCell(tt.in); got != tt.cell {
			t.Errorf("mbCell(%v) = %q, want %q", tt.in, got, tt.cell)
		}
		if !reflect.DeepEqual(orig, tt.in) {
			t.Errorf("medianF reordered its input: %v", tt.in)
		}
	}
}

func TestRatioAtLeast(t *testing.T) {
	tests := []struct {
		a, b, goal float64
		r, met     string
	}{
		{300, 100, 2, "3.00", "yes"},
		{200, 100, 2, "2.00", "yes"},
		{150, 100, 2, "1.50", "no"},
		{95, 100, 0.9, "0.95", "yes"},
		{50, 0, 2, "–", "n/a"},
	}
	for _, tt := range tests {
		if r, met := ratioAtLeast(tt.a, tt.b, tt.goal); r != tt.r || met != tt.met {
			t.Errorf("ratioAtLeast(%v, %v, %v) = %q, %q; want %q, %q", tt.a, tt.b, tt.goal, r, met, tt.r, tt.met)
		}
	}
}

func TestCountProxies(t *testing.T) {
	ps := []proc{
		{pid: 1, comm: "init"},
		{pid: 10, ppid: 1, comm: "dockerd"},
		{pid: 11, ppid: 10, comm: "docker-proxy", argv: []string{"docker-proxy", "-proto", "tcp", "-host-ip", "127.0.0.1", "-host-port", "18080"}},
		{pid: 12, ppid: 10, comm: "docker-proxy", argv: []string{"docker-proxy", "-host-port", "9999"}},
		{pid: 20, ppid: 1, comm: "dockerd"},
		{pid: 21, ppid: 20, comm: "docker-proxy", argv: []string{"docker-proxy", "-host-port", "18080"}},
		{pid: 30, ppid: 10, comm: "sh", argv: []string{"sh", "-host-port", "18080"}},
	}
	if got := countProxies(ps, &engine{netnsPID: 10}, 18080); got != 1 {
		t.Errorf("countProxies = %d, want 1", got)
	}
	if got := countProxies(ps, &engine{netnsPID: 40}, 18080); got != 0 {
		t.Errorf("countProxies of another daemon = %d, want 0", got)
	}
}

func TestHTTPDScript(t *testing.T) {
	got := httpdScript(64)
	for _, want := range []string{"count=64", "of=/var/www/big", "exec httpd -f -p 80 -h /var/www"} {
		if !strings.Contains(got, want) {
			t.Errorf("httpdScript(64) = %q, lacks %q", got, want)
		}
	}
}
