package cli

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// fakeEnv is a parseEnv with a fixed environment and files.
func fakeEnv(env map[string]string, files map[string]string) parseEnv {
	return parseEnv{
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		readFile: func(name string) ([]byte, error) {
			if s, ok := files[name]; ok {
				return []byte(s), nil
			}
			return nil, errors.New("no such file or directory")
		},
	}
}

// parseRun parses `run` arguments the way the command does.
func parseRun(args []string, penv parseEnv) (*containerSpec, error) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	o := addContainerFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return o.parse(fs, fs.Args(), penv)
}

func TestParseRun_Config(t *testing.T) {
	penv := fakeEnv(map[string]string{"HOME": "/root"}, map[string]string{
		"env.list":    "\ufeff# comment\n\n  A=1\nB=not trimmed \nHOME\nUNSET\n",
		"labels.list": "x=1\nflag\n",
		"prof.json":   `{ "defaultAction": "SCMP_ACT_ALLOW" }`,
	})
	spec, err := parseRun([]string{
		"-d", "--name", "web", "-e", "C=3", "-e", "HOME", "-e", "NOPE", "--env-file", "env.list",
		"-l", "a=b", "--label-file", "labels.list", "-w", "/srv", "-u", "1000:1000", "-h", "box",
		"--entrypoint", "/bin/sh", "-p", "127.0.0.1:8080:80", "-p", "53:53/udp", "--expose", "9000",
		"-v", "/host:/ctr:ro", "-v", "/anon", "-v", "named:/n", "--mount", "type=tmpfs,target=/t",
		"--tmpfs", "/run:size=1m", "--read-only", "--init", "--stop-signal", "SIGINT", "--stop-timeout", "5",
		"--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--security-opt", "seccomp=prof.json",
		"--security-opt", "no-new-privileges", "--log-driver", "json-file", "--log-opt", "max-size=1m",
		"--network", "host", "--add-host", "db:10.0.0.2", "--add-host", "gw=host-gateway", "--dns", "1.1.1.1",
		"--ulimit", "nofile=1024:2048", "-m", "64m", "--cpus", "1.5", "--pids-limit", "100", "--shm-size", "128m",
		"--group-add", "audio", "--sysctl", "net.ipv4.ip_forward=1", "--platform", "linux/amd64",
		"--restart", "on-failure:3", "--pull", "never",
		"busybox", "echo", "-n", "hi",
	}, penv)
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc := spec.Config, spec.HostConfig
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("Image", cfg.Image, "busybox")
	check("Cmd", cfg.Cmd, []string{"echo", "-n", "hi"})
	check("Entrypoint", cfg.Entrypoint, []string{"/bin/sh"})
	check("Env", cfg.Env, []string{"A=1", "B=not trimmed ", "HOME=/root", "C=3", "HOME=/root", "NOPE"})
	check("Labels", cfg.Labels, map[string]string{"a": "b", "x": "1", "flag": ""})
	check("attach", []bool{cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce}, []bool{false, false, false, false})
	check("User/WorkingDir/Hostname", []string{cfg.User, cfg.WorkingDir, cfg.Hostname}, []string{"1000:1000", "/srv", "box"})
	check("StopSignal", cfg.StopSignal, "SIGINT")
	check("StopTimeout", *cfg.StopTimeout, 5)
	check("Name", spec.Name, "web")
	check("Pull", spec.Pull, pullNever)
	check("Platform", spec.Platform.OS+"/"+spec.Platform.Architecture, "linux/amd64")
	p80 := network.MustParsePort("80/tcp")
	p53 := network.MustParsePort("53/udp")
	check("ExposedPorts", cfg.ExposedPorts, network.PortSet{p80: {}, p53: {}, network.MustParsePort("9000/tcp"): {}})
	check("PortBindings", hc.PortBindings, network.PortMap{
		p80: {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8080"}},
		p53: {{HostPort: "53"}},
	})
	check("Binds", hc.Binds, []string{"/host:/ctr:ro", "named:/n"})
	check("Volumes", cfg.Volumes, map[string]struct{}{"/anon": {}})
	check("Mounts", len(hc.Mounts), 1)
	check("Tmpfs", hc.Tmpfs, map[string]string{"/run": "size=1m"})
	check("ReadonlyRootfs", hc.ReadonlyRootfs, true)
	check("Init", *hc.Init, true)
	check("Privileged", hc.Privileged, true)
	check("CapAdd/CapDrop", [][]string{hc.CapAdd, hc.CapDrop}, [][]string{{"NET_ADMIN"}, {"ALL"}})
	check("SecurityOpt", hc.SecurityOpt, []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`, "no-new-privileges"})
	check("LogConfig", hc.LogConfig, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}})
	check("NetworkMode", hc.NetworkMode, container.NetworkMode("host"))
	check("ExtraHosts", hc.ExtraHosts, []string{"db:10.0.0.2", "gw:host-gateway"})
	check("DNS", hc.DNS, []netip.Addr{netip.MustParseAddr("1.1.1.1")})
	check("Ulimits", len(hc.Ulimits), 1)
	check("Ulimit", *hc.Ulimits[0], container.Ulimit{Name: "nofile", Soft: 1024, Hard: 2048})
	check("Memory", hc.Memory, int64(64<<20))
	check("NanoCPUs", hc.NanoCPUs, int64(1_500_000_000))
	check("PidsLimit", *hc.PidsLimit, int64(100))
	check("ShmSize", hc.ShmSize, int64(128<<20))
	check("GroupAdd", hc.GroupAdd, []string{"audio"})
	check("Sysctls", hc.Sysctls, map[string]string{"net.ipv4.ip_forward": "1"})
	check("RestartPolicy", hc.RestartPolicy, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3})
}

func TestParseRun_Defaults(t *testing.T) {
	spec, err := parseRun([]string{"busybox"}, fakeEnv(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg, hc := spec.Config, spec.HostConfig
	if cfg.AttachStdin || !cfg.AttachStdout || !cfg.AttachStderr || cfg.OpenStdin || cfg.Tty {
		t.Errorf("attach defaults: %+v", cfg)
	}
	if cfg.Cmd != nil || cfg.Entrypoint != nil || cfg.StopTimeout != nil || hc.Init != nil || hc.PidsLimit != nil {
		t.Errorf("unset flags leaked: %+v %+v", cfg, hc)
	}
	if hc.NetworkMode != "default" || hc.RestartPolicy.Name != "no" || spec.Pull != pullMissing {
		t.Errorf("defaults: network %q restart %q pull %q", hc.NetworkMode, hc.RestartPolicy.Name, spec.Pull)
	}
	if spec.Networking == nil || spec.Networking.EndpointsConfig == nil {
		t.Errorf("networking config missing")
	}
}

func TestParseRun_Streams(t *testing.T) {
	tests := []struct {
		args                        []string
		stdin, stdout, stderr, once bool
		open                        bool
	}{
		{[]string{"-i", "img"}, true, true, true, true, true},
		{[]string{"-it", "img"}, true, true, true, true, true},
		{[]string{"-a", "stdout", "img"}, false, true, false, false, false},
		{[]string{"-a", "STDIN", "-a", "stderr", "img"}, true, false, true, false, false},
		{[]string{"-d", "-i", "img"}, false, false, false, false, true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			spec, err := parseRun(tc.args, fakeEnv(nil, nil))
			if err != nil {
				t.Fatal(err)
			}
			c := spec.Config
			got := []bool{c.AttachStdin, c.AttachStdout, c.AttachStderr, c.StdinOnce, c.OpenStdin}
			want := []bool{tc.stdin, tc.stdout, tc.stderr, tc.once, tc.open}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}

func TestParseRun_EntrypointReset(t *testing.T) {
	spec, err := parseRun([]string{"--entrypoint=", "img"}, fakeEnv(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(spec.Config.Entrypoint, []string{""}) {
		t.Fatalf("Entrypoint = %#v", spec.Config.Entrypoint)
	}
}

func TestParseRun_Errors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--rm", "--restart", "always", "img"}, "conflicting options: cannot specify both --restart and --rm"},
		{[]string{"-d", "-a", "stdout", "img"}, "conflicting options: cannot specify both --attach and --detach"},
		{[]string{"-a", "stdio", "img"}, "valid streams are STDIN, STDOUT and STDERR"},
		{[]string{"--restart", "sometimes", "img"}, "invalid restart policy: unknown policy 'sometimes'"},
		{[]string{"--restart", "always:3", "img"}, "maximum retry count can only be used with 'on-failure'"},
		{[]string{"--restart", "on-failure:x", "img"}, "maximum retry count must be an integer"},
		{[]string{"--restart", ":3", "img"}, "no policy provided before colon"},
		{[]string{"-p", "99999", "img"}, `invalid argument "99999" for "-p, --publish" flag`},
		{[]string{"-e", "=x", "img"}, "invalid environment variable: =x"},
		{[]string{"--env-file", "missing", "img"}, "open missing"},
		{[]string{"-m", "lots", "img"}, `for "-m, --memory" flag`},
		{[]string{"--cpus", "0.0000000001", "img"}, "value is too precise"},
		{[]string{"--cpus", "-1", "img"}, "value must be positive"},
		{[]string{"--ulimit", "nofile", "img"}, `for "--ulimit" flag`},
		{[]string{"--dns", "dns.example", "img"}, "dns.example is not an ip address"},
		{[]string{"--add-host", "nohost", "img"}, "bad format for add-host"},
		{[]string{"--add-host", "h:notip", "img"}, "invalid IP address in add-host"},
		{[]string{"--log-opt", "novalue", "img"}, `for "--log-opt" flag`},
		{[]string{"--security-opt", "label", "img"}, `invalid --security-opt: "label"`},
		{[]string{"--security-opt", "seccomp=nofile.json", "img"}, "opening seccomp profile"},
		{[]string{"--pull", "sometimes", "img"}, `invalid pull option: 'sometimes'`},
		{[]string{"--tmpfs", "rel", "img"}, "must be an absolute path"},
		{[]string{"--mount", "type=bind", "img"}, "target is required"},
		{[]string{"-v", "a::b", "img"}, "empty section between colons"},
		{[]string{"--detach-keys", "ctrl-1", "img"}, "invalid detach keys"},
		{[]string{"--platform", "linux//", "img"}, "invalid platform"},
		{[]string{"--cgroupns", "weird", "img"}, "invalid CGROUP mode"},
		{[]string{"-l", "=v", "img"}, "invalid label"},
		{[]string{}, "image name is required"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseRun(tc.args, fakeEnv(nil, nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseKeyValueFile_Errors(t *testing.T) {
	tests := map[string]string{
		"A B=1\n":  "variable 'A B' contains whitespaces",
		"=1\n":     "no variable name",
		"A=\xff\n": "invalid utf8",
	}
	for content, want := range tests {
		_, err := parseKeyValueFile("f", fakeEnv(nil, map[string]string{"f": content}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("content %q: err = %v, want %q", content, err, want)
		}
	}
}

func TestParseDetachKeys(t *testing.T) {
	tests := []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{"ctrl-p,ctrl-q", []byte{16, 17}, false},
		{"a,ctrl-@,ctrl-[,ctrl-_", []byte{'a', 0, 27, 31}, false},
		{"ctrl-", nil, true},
		{"ctrl-ab", nil, true},
		{"ab", nil, true},
		{"ctrl-1", nil, true},
		{"", nil, true},
	}
	for _, tc := range tests {
		got, err := parseDetachKeys(tc.in)
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestParseNanoCPUs(t *testing.T) {
	for in, want := range map[string]int64{"1": 1e9, "0.5": 5e8, "2.000000001": 2_000_000_001, "0": 0} {
		got, err := parseNanoCPUs(in)
		if err != nil || got != want {
			t.Errorf("parseNanoCPUs(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "1e30", "1/0"} {
		if _, err := parseNanoCPUs(bad); err == nil {
			t.Errorf("parseNanoCPUs(%q) succeeded", bad)
		}
	}
}

// FuzzParseRunFlags feeds arbitrary run command lines (space-separated) to
// the flag parser and config builder: they must never panic, and a parsed
// spec must be internally consistent.
func FuzzParseRunFlags(f *testing.F) {
	for _, seed := range []string{
		"busybox",
		"-p 127.0.0.1:8080:80/udp -p [::1]::53 -P img",
		"-p 1-65535:1-65535 img",
		"-p 0-65535 img",
		"-p :::::: img",
		"-p [[::1]]:1:1 img",
		"--mount type=bind,src=/a,dst=/b,bind-propagation=rshared img",
		`--mount "type=volume,,volume-opt=a=b=c",volume-label img`,
		"--mount type=tmpfs,target=/t,tmpfs-mode=77777777777777777777 img",
		"-e A=1 -e =x -e \x00 img",
		"-v ::: -v /a:/b:ro:z img",
		"--restart on-failure:-1 img",
		"--cpus 1e-9999999 img",
		"-m 9999999999999999999999T img",
		"--ulimit nofile=-1:-2 img",
		"--add-host a:[::1] --dns 999.1.1.1 img",
		"--detach-keys ctrl-,, img",
		"--security-opt seccomp:x img",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		spec, err := parseRun(args, fakeEnv(map[string]string{"A": "1"}, map[string]string{"x": "{}"}))
		if err != nil {
			return
		}
		if spec.Config == nil || spec.HostConfig == nil || spec.Networking == nil {
			t.Fatalf("incomplete spec for %q", line)
		}
		for p, bs := range spec.HostConfig.PortBindings {
			if !p.IsValid() {
				t.Fatalf("invalid port in bindings for %q", line)
			}
			if _, ok := spec.Config.ExposedPorts[p]; !ok {
				t.Fatalf("bound port %s not exposed for %q", p, line)
			}
			if len(bs) == 0 {
				t.Fatalf("empty binding list for %q", line)
			}
		}
		if spec.HostConfig.AutoRemove && !spec.HostConfig.RestartPolicy.IsNone() {
			t.Fatalf("--rm with restart policy accepted for %q", line)
		}
	})
}

// FuzzParsePublish checks the -p parser alone with hostile input.
func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "1.2.3.4:1-2:3-4/sctp", "[fe80::1%eth0]:1:1", "::::", "-", "1-", "65535-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parsePublish(s)
		if err != nil {
			return
		}
		if len(ms) == 0 || len(ms) > 65536 {
			t.Fatalf("%q: %d mappings", s, len(ms))
		}
	})
}

// FuzzParseMount checks the --mount parser with hostile input.
func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,src=/a,dst=/b", `"a`, "target=/x,volume-opt", "ro,ro=1,readonly=0,target=/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseMount(s)
		if err != nil {
			return
		}
		if m.Type == "" || m.Target == "" {
			t.Fatalf("%q: accepted mount without type or target: %+v", s, m)
		}
	})
}
