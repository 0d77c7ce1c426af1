package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
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
	}
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
		"linux":{"cgroupsPath":"/berth/abc"}}`
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
		Linux  struct{ CgroupsPath string }
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
