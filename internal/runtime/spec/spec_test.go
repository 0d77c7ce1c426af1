package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/runtime-spec/specs-go"

	"berth/internal/testutil"
)

// fakeHost is a cgroup v1 host that knows every capability, holds all but
// CAP_SYS_RESOURCE and has one device.
func fakeHost() host {
	return host{
		caps:         fakeCaps(),
		recursiveRO:  true,
		sysctlExists: func(string) bool { return true },
		maskedPaths:  func() []string { return []string{"/proc/kcore", "/sys/firmware"} },
		devices: func() ([]specs.LinuxDevice, error) {
			return []specs.LinuxDevice{{Path: "/dev/sda", Type: "b", Major: 8, Minor: 0}}, nil
		},
	}
}

func genInput(t *testing.T, cfg *container.Config, hc *container.HostConfig) Input {
	t.Helper()
	return Input{
		ID:          "c1",
		Rootfs:      fakeRootfs(t, testPasswd, testGroup),
		Args:        []string{"/bin/sh", "-c", "true"},
		Config:      cfg,
		HostConfig:  hc,
		Hostname:    "box",
		CgroupsPath: "/berth/c1",
	}
}

func mustGenerate(t *testing.T, in Input, h host) *specs.Spec {
	t.Helper()
	s, err := generate(testutil.Context(t), in, h)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	// The spec must survive a round trip through config.json.
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func destinations(ms []specs.Mount) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Destination)
	}
	return out
}

func findMount(t *testing.T, ms []specs.Mount, dst string) specs.Mount {
	t.Helper()
	for _, m := range ms {
		if m.Destination == dst {
			return m
		}
	}
	t.Fatalf("no mount on %s in %v", dst, destinations(ms))
	return specs.Mount{}
}

func nsTypes(ns []specs.LinuxNamespace) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range ns {
		out = append(out, n.Type)
	}
	return out
}

func TestGenerate_Defaults(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{}), fakeHost())

	if s.Version != "1.0.2-dev" || s.Hostname != "box" || s.Linux.CgroupsPath != "/berth/c1" || s.Root.Readonly {
		t.Errorf("version %q hostname %q cgroups %q readonly %v", s.Version, s.Hostname, s.Linux.CgroupsPath, s.Root.Readonly)
	}
	p := s.Process
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "true"}) || p.Cwd != "/" || p.Terminal || p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=box"}) {
		t.Errorf("env %v", p.Env)
	}
	if p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 {
		t.Errorf("oomScoreAdj %v", p.OOMScoreAdj)
	}
	c := p.Capabilities
	if !slices.Equal(c.Bounding, DefaultCapabilities()) || !slices.Equal(c.Effective, DefaultCapabilities()) ||
		!slices.Equal(c.Permitted, DefaultCapabilities()) || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities %+v", c)
	}
	wantNS := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace}
	if got := nsTypes(s.Linux.Namespaces); !slices.Equal(got, wantNS) {
		t.Errorf("namespaces %v, want %v (no cgroup namespace on v1)", got, wantNS)
	}
	wantMounts := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}
	if got := destinations(s.Mounts); !slices.Equal(got, wantMounts) {
		t.Errorf("mounts %v, want %v", got, wantMounts)
	}
	if shm := findMount(t, s.Mounts, "/dev/shm"); !slices.Equal(shm.Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}) {
		t.Errorf("/dev/shm options %v", shm.Options)
	}
	if !slices.Equal(s.Linux.MaskedPaths, []string{"/proc/kcore", "/sys/firmware"}) ||
		!slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths()) {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp %+v", s.Linux.Seccomp)
	}
	rules := s.Linux.Resources.Devices
	if len(rules) != 8 || rules[0].Allow || rules[0].Access != "rwm" || rules[7].Allow || *rules[7].Major != 10 || *rules[7].Minor != 229 {
		t.Errorf("device rules %+v", rules)
	}
	if len(s.Linux.Devices) != 0 {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	if s.Linux.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" || s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}
}

func TestGenerate_NonRootHasOnlyBoundingCaps(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{User: "user"}, &container.HostConfig{CapAdd: []string{"NET_ADMIN"}}), fakeHost())
	c := s.Process.Capabilities
	if !slices.Contains(c.Bounding, "CAP_NET_ADMIN") || c.Effective != nil || c.Permitted != nil {
		t.Errorf("capabilities %+v", c)
	}
	if s.Process.User.UID != 1000 || !slices.Equal(s.Process.User.AdditionalGids, []uint32{1000, 50, 29}) {
		t.Errorf("user %+v", s.Process.User)
	}
}

func TestGenerate_Privileged(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{Privileged: true, ReadonlyRootfs: true}), fakeHost())
	if !slices.Equal(s.Process.Capabilities.Bounding, fakeCaps().all) {
		t.Errorf("bounding %v", s.Process.Capabilities.Bounding)
	}
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("seccomp %v masked %v readonly %v", s.Linux.Seccomp != nil, s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, dst := range []string{"/sys", "/sys/fs/cgroup"} {
		if m := findMount(t, s.Mounts, dst); slices.Contains(m.Options, "ro") {
			t.Errorf("%s is read-only in a privileged container: %v", dst, m.Options)
		}
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/sda" {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
	if r := s.Linux.Resources.Devices; len(r) != 1 || !r[0].Allow || r[0].Access != "rwm" || r[0].Type != "" {
		t.Errorf("device rules %+v", r)
	}
}

func TestGenerate_Namespaces(t *testing.T) {
	v2 := fakeHost()
	v2.cgroup2 = true
	tests := []struct {
		name    string
		hc      container.HostConfig
		netns   string
		h       host
		want    []specs.LinuxNamespaceType
		netPath string
		host    string
	}{
		{name: "cgroup v2 private by default", h: v2, want: []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc", "cgroup"}, host: "box"},
		{name: "cgroup v2 host when asked", h: v2, hc: container.HostConfig{CgroupnsMode: "host"}, want: []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"}, host: "box"},
		{name: "cgroup v1 private when asked", h: fakeHost(), hc: container.HostConfig{CgroupnsMode: "private"}, want: []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc", "cgroup"}, host: "box"},
		{name: "joined netns", h: fakeHost(), netns: "/run/berth/netns/c1", want: []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"}, netPath: "/run/berth/netns/c1", host: "box"},
		{name: "host network", h: fakeHost(), netns: "/ignored", hc: container.HostConfig{NetworkMode: "host"}, want: []specs.LinuxNamespaceType{"mount", "uts", "pid", "ipc"}, host: "box"},
		{name: "host pid ipc uts", h: fakeHost(), hc: container.HostConfig{PidMode: "host", IpcMode: "host", UTSMode: "host"}, want: []specs.LinuxNamespaceType{"mount", "network"}, host: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := genInput(t, &container.Config{}, &tt.hc)
			in.NetNSPath = tt.netns
			s := mustGenerate(t, in, tt.h)
			if got := nsTypes(s.Linux.Namespaces); !slices.Equal(got, tt.want) {
				t.Errorf("namespaces %v, want %v", got, tt.want)
			}
			for _, n := range s.Linux.Namespaces {
				if n.Type == specs.NetworkNamespace && n.Path != tt.netPath {
					t.Errorf("network namespace path %q, want %q", n.Path, tt.netPath)
				}
			}
			if s.Hostname != tt.host {
				t.Errorf("hostname %q, want %q", s.Hostname, tt.host)
			}
		})
	}
}

func TestGenerate_HostNetworkHasNoDefaultSysctls(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{NetworkMode: "host", Sysctls: map[string]string{"kernel.shmmax": "1"}}), fakeHost())
	if len(s.Linux.Sysctl) != 1 || s.Linux.Sysctl["kernel.shmmax"] != "1" {
		t.Errorf("sysctls %v", s.Linux.Sysctl)
	}
	s = mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{Sysctls: map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024"}}), fakeHost())
	if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "1024" {
		t.Errorf("user sysctl must override the default: %v", s.Linux.Sysctl)
	}
}

func TestGenerate_Mounts(t *testing.T) {
	src := t.TempDir()
	created := filepath.Join(t.TempDir(), "new", "dir")
	hosts := filepath.Join(t.TempDir(), "hosts")
	in := genInput(t, &container.Config{}, &container.HostConfig{
		ReadonlyRootfs: true,
		ShmSize:        1 << 20,
		Binds:          []string{src + ":/data/deep/er:ro", created + ":/new"},
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: src, Target: "/m"},
			{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20}},
		},
		Tmpfs: map[string]string{"/run": "size=64m,mode=755"},
	})
	in.EtcFiles = map[string]string{"/etc/hosts": hosts, "/etc/resolv.conf": "/r", "/etc/hostname": "/h"}
	s := mustGenerate(t, in, fakeHost())

	want := []string{
		"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm",
		// user mounts, parents first, then in the order given
		"/new", "/m", "/scratch", "/run",
		"/etc/resolv.conf", "/etc/hostname", "/etc/hosts",
		"/data/deep/er",
	}
	if got := destinations(s.Mounts); !slices.Equal(got, want) {
		t.Fatalf("mounts\n got %v\nwant %v", got, want)
	}
	if !s.Root.Readonly {
		t.Error("root not read-only")
	}
	if fi, err := os.Stat(created); err != nil || !fi.IsDir() {
		t.Errorf("-v source not created: %v", err)
	}
	checks := map[string][]string{
		"/dev/shm":         {"nosuid", "noexec", "nodev", "mode=1777", "size=1048576"},
		"/etc/hosts":       {"rbind", "ro", "rro", "rprivate"},
		"/data/deep/er":    {"rbind", "ro", "rro", "rprivate"},
		"/new":             {"rbind", "rprivate"},
		"/run":             {"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=755"},
		"/scratch":         {"noexec", "nosuid", "nodev", "rprivate", "size=1m"},
		"/proc":            {"nosuid", "noexec", "nodev"},
		"/sys":             {"nosuid", "noexec", "nodev", "ro"},
		"/dev/pts":         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"},
		"/sys/fs/cgroup":   {"ro", "nosuid", "noexec", "nodev"},
		"/etc/resolv.conf": {"rbind", "ro", "rro", "rprivate"},
	}
	for dst, opts := range checks {
		if m := findMount(t, s.Mounts, dst); !slices.Equal(m.Options, opts) {
			t.Errorf("%s options %v, want %v", dst, m.Options, opts)
		}
	}
	if m := findMount(t, s.Mounts, "/etc/hosts"); m.Source != hosts || m.Type != "bind" {
		t.Errorf("/etc/hosts %+v", m)
	}
}

func TestGenerate_UserMountsOverrideDefaults(t *testing.T) {
	dev := t.TempDir()
	in := genInput(t, &container.Config{}, &container.HostConfig{
		Binds: []string{dev + ":/dev", dev + ":/etc/hosts"},
		Tmpfs: map[string]string{"/sys": ""},
	})
	in.EtcFiles = map[string]string{"/etc/hosts": "/ignored"}
	s := mustGenerate(t, in, fakeHost())
	want := []string{"/proc", "/sys/fs/cgroup", "/dev", "/sys", "/etc/hosts"}
	if got := destinations(s.Mounts); !slices.Equal(got, want) {
		t.Errorf("mounts %v, want %v", got, want)
	}
	if m := findMount(t, s.Mounts, "/etc/hosts"); m.Source != dev {
		t.Errorf("user bind must win over the etc file: %+v", m)
	}

	s = mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{IpcMode: "none"}), fakeHost())
	if slices.Contains(destinations(s.Mounts), "/dev/shm") {
		t.Error("IpcMode none must drop /dev/shm")
	}
	s = mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{IpcMode: "host"}), fakeHost())
	if m := findMount(t, s.Mounts, "/dev/shm"); m.Type != "bind" || m.Source != "/dev/shm" {
		t.Errorf("IpcMode host must bind the host's /dev/shm: %+v", m)
	}
}

func TestGenerate_Errors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		cfg     container.Config
		hc      container.HostConfig
		args    []string
		class   func(error) bool
		message string
	}{
		{name: "unknown user", cfg: container.Config{User: "bob"}, class: errdefs.IsInvalidArgument, message: "unable to find user bob: no matching entries in passwd file"},
		{name: "unknown cap", hc: container.HostConfig{CapAdd: []string{"FOO"}}, class: errdefs.IsInvalidArgument, message: `unknown capability: "CAP_FOO"`},
		{name: "relative bind target", hc: container.HostConfig{Binds: []string{dir + ":rel"}}, class: errdefs.IsInvalidArgument},
		{name: "missing mount source", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: dir + "/nope", Target: "/x"}}}, class: errdefs.IsInvalidArgument,
			message: `invalid mount config for type "bind": bind source path does not exist: ` + dir + "/nope"},
		{name: "named volume", hc: container.HostConfig{Binds: []string{"data:/data"}}, class: errdefs.IsNotImplemented},
		{name: "volume mount", hc: container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/x"}}}, class: errdefs.IsNotImplemented},
		{name: "duplicate mount point", hc: container.HostConfig{Binds: []string{dir + ":/x"}, Tmpfs: map[string]string{"/x": ""}}, class: errdefs.IsInvalidArgument, message: "Duplicate mount point: /x"},
		{name: "bad security opt", hc: container.HostConfig{SecurityOpt: []string{"bogus"}}, class: errdefs.IsInvalidArgument, message: `invalid --security-opt 1: "bogus"`},
		{name: "unknown security opt", hc: container.HostConfig{SecurityOpt: []string{"foo=bar"}}, class: errdefs.IsInvalidArgument, message: `invalid --security-opt 2: "foo=bar"`},
		{name: "bad no-new-privileges", hc: container.HostConfig{SecurityOpt: []string{"no-new-privileges=maybe"}}, class: errdefs.IsInvalidArgument},
		{name: "bad seccomp json", hc: container.HostConfig{SecurityOpt: []string{"seccomp={"}}, class: errdefs.IsInvalidArgument},
		{name: "relative workdir", cfg: container.Config{WorkingDir: "app"}, class: errdefs.IsInvalidArgument},
		{name: "no command", args: []string{}, class: errdefs.IsInvalidArgument, message: "No command specified"},
		{name: "bad ipc mode", hc: container.HostConfig{IpcMode: "weird"}, class: errdefs.IsInvalidArgument, message: "invalid IPC mode: weird"},
		{name: "init without binary", hc: container.HostConfig{Init: ptr(true)}, class: errdefs.IsFailedPrecondition},
		{name: "bad ulimit", hc: container.HostConfig{Resources: container.Resources{Ulimits: []*container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}}}}, class: errdefs.IsInvalidArgument, message: "invalid ulimit type: bogus"},
		{name: "nano cpus with quota", hc: container.HostConfig{Resources: container.Resources{NanoCPUs: 1e9, CPUQuota: 1000}}, class: errdefs.IsInvalidArgument},
		{name: "bad device cgroup rule", hc: container.HostConfig{Resources: container.Resources{DeviceCgroupRules: []string{"c 1:x rwm"}}}, class: errdefs.IsInvalidArgument, message: "invalid device cgroup rule format: 'c 1:x rwm'"},
		{name: "oom score out of range", hc: container.HostConfig{OomScoreAdj: 1001}, class: errdefs.IsInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := genInput(t, &tt.cfg, &tt.hc)
			if tt.args != nil {
				in.Args = tt.args
			}
			_, err := generate(testutil.Context(t), in, fakeHost())
			if err == nil || !tt.class(err) {
				t.Fatalf("err = %v, wrong class", err)
			}
			if tt.message != "" && err.Error() != tt.message {
				t.Errorf("message %q, want %q", err.Error(), tt.message)
			}
		})
	}
}

func TestGenerate_SecurityOpts(t *testing.T) {
	profile := `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`
	tests := []struct {
		name    string
		opts    []string
		nnp     bool
		seccomp func(*specs.LinuxSeccomp) bool
	}{
		{name: "default", seccomp: func(s *specs.LinuxSeccomp) bool { return s != nil && s.DefaultAction == specs.ActErrno }},
		{name: "no-new-privileges", opts: []string{"no-new-privileges"}, nnp: true, seccomp: func(s *specs.LinuxSeccomp) bool { return s != nil }},
		{name: "no-new-privileges true", opts: []string{"no-new-privileges:true"}, nnp: true, seccomp: func(s *specs.LinuxSeccomp) bool { return s != nil }},
		{name: "no-new-privileges false", opts: []string{"no-new-privileges=false"}, seccomp: func(s *specs.LinuxSeccomp) bool { return s != nil }},
		{name: "unconfined", opts: []string{"seccomp=unconfined"}, seccomp: func(s *specs.LinuxSeccomp) bool { return s == nil }},
		{name: "apparmor ignored", opts: []string{"apparmor=unconfined", "label=disable"}, seccomp: func(s *specs.LinuxSeccomp) bool { return s != nil }},
		{name: "custom profile", opts: []string{"seccomp=" + profile}, seccomp: func(s *specs.LinuxSeccomp) bool {
			return s != nil && s.DefaultAction == specs.ActAllow && len(s.Syscalls) == 1 && s.Syscalls[0].Names[0] == "mkdir"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{SecurityOpt: tt.opts}), fakeHost())
			if s.Process.NoNewPrivileges != tt.nnp {
				t.Errorf("noNewPrivileges %v, want %v", s.Process.NoNewPrivileges, tt.nnp)
			}
			if !tt.seccomp(s.Linux.Seccomp) {
				t.Errorf("unexpected seccomp %+v", s.Linux.Seccomp)
			}
		})
	}
}

func TestGenerate_Init(t *testing.T) {
	tests := []struct {
		name     string
		hc       container.HostConfig
		wantArgs []string
		mounted  bool
	}{
		{name: "init", hc: container.HostConfig{Init: ptr(true)}, wantArgs: []string{"/sbin/docker-init", "--", "/bin/sh", "-c", "true"}, mounted: true},
		{name: "init false", hc: container.HostConfig{Init: ptr(false)}, wantArgs: []string{"/bin/sh", "-c", "true"}},
		{name: "init unset", wantArgs: []string{"/bin/sh", "-c", "true"}},
		{name: "host pid namespace has an init", hc: container.HostConfig{Init: ptr(true), PidMode: "host"}, wantArgs: []string{"/bin/sh", "-c", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := genInput(t, &container.Config{}, &tt.hc)
			in.InitPath = "/usr/libexec/berth/docker-init"
			s := mustGenerate(t, in, fakeHost())
			if !slices.Equal(s.Process.Args, tt.wantArgs) {
				t.Errorf("args %v, want %v", s.Process.Args, tt.wantArgs)
			}
			has := slices.Contains(destinations(s.Mounts), InitPathInContainer)
			if has != tt.mounted {
				t.Fatalf("init mounted %v, want %v", has, tt.mounted)
			}
			if has {
				m := findMount(t, s.Mounts, InitPathInContainer)
				if m.Source != in.InitPath || m.Type != "bind" || !slices.Equal(m.Options, []string{"bind", "ro"}) {
					t.Errorf("init mount %+v", m)
				}
				// Right after the defaults, before user mounts.
				if i := slices.Index(destinations(s.Mounts), InitPathInContainer); i != 7 {
					t.Errorf("init mount at %d", i)
				}
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		tty  bool
		want []string
	}{
		{name: "defaults", want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h"}},
		{name: "tty", tty: true, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=xterm"}},
		{name: "image path wins", env: []string{"PATH=/app/bin", "A=1"}, want: []string{"PATH=/app/bin", "HOSTNAME=h", "A=1"}},
		{name: "term override", tty: true, env: []string{"TERM=vt100"}, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=vt100"}},
		{name: "later value wins", env: []string{"A=1", "B=2", "A=3"}, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "A=3", "B=2"}},
		{name: "unset default", env: []string{"HOSTNAME"}, want: []string{"PATH=" + DefaultPathEnv}},
		{name: "unset unknown is dropped", env: []string{"NOPE", "EMPTY="}, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "EMPTY="}},
		{name: "value with equals", env: []string{"X=a=b"}, want: []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "X=a=b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Env(tt.env, "h", tt.tty); !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestGenerate_ProcessAndResources(t *testing.T) {
	cfg := &container.Config{Tty: true, WorkingDir: "/app/", Env: []string{"A=1"}, User: "1000:50"}
	hc := &container.HostConfig{
		OomScoreAdj: 500,
		GroupAdd:    []string{"audio"},
		ConsoleSize: [2]uint{24, 80},
		Resources: container.Resources{
			Memory:            256 << 20,
			MemoryReservation: 128 << 20,
			NanoCPUs:          1500000000,
			CPUShares:         512,
			CpusetCpus:        "0-1",
			CpusetMems:        "0",
			PidsLimit:         ptr(int64(0)),
			OomKillDisable:    ptr(true),
			Ulimits:           []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}},
		},
	}
	s := mustGenerate(t, genInput(t, cfg, hc), fakeHost())
	p := s.Process
	if p.Cwd != "/app" || !p.Terminal || p.ConsoleSize == nil || p.ConsoleSize.Height != 24 || p.ConsoleSize.Width != 80 {
		t.Errorf("process %+v", p)
	}
	if !slices.Equal(p.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=box", "TERM=xterm", "A=1"}) {
		t.Errorf("env %v", p.Env)
	}
	if p.User.UID != 1000 || p.User.GID != 50 || !slices.Equal(p.User.AdditionalGids, []uint32{50, 29}) {
		t.Errorf("user %+v", p.User)
	}
	if *p.OOMScoreAdj != 500 {
		t.Errorf("oomScoreAdj %d", *p.OOMScoreAdj)
	}
	wantRlimits := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)}}
	if !slices.Equal(p.Rlimits, wantRlimits) {
		t.Errorf("rlimits %+v", p.Rlimits)
	}
	r := s.Linux.Resources
	if *r.Memory.Limit != 256<<20 || *r.Memory.Reservation != 128<<20 || *r.Memory.Swap != 512<<20 || !*r.Memory.DisableOOMKiller {
		t.Errorf("memory %+v", r.Memory)
	}
	if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 || *r.CPU.Shares != 512 || r.CPU.Cpus != "0-1" || r.CPU.Mems != "0" {
		t.Errorf("cpu %+v", r.CPU)
	}
	if *r.Pids.Limit != -1 {
		t.Errorf("pids %d", *r.Pids.Limit)
	}

	hc = &container.HostConfig{Resources: container.Resources{Memory: 1 << 30, MemorySwap: -1, CPUQuota: 50000, CPUPeriod: 200000, PidsLimit: ptr(int64(100))}}
	s = mustGenerate(t, genInput(t, &container.Config{}, hc), fakeHost())
	r = s.Linux.Resources
	if *r.Memory.Swap != -1 || *r.CPU.Quota != 50000 || *r.CPU.Period != 200000 || *r.Pids.Limit != 100 {
		t.Errorf("resources %+v %+v %+v", r.Memory, r.CPU, r.Pids)
	}
}

func TestGenerate_MaskedPathsFromHostConfig(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{MaskedPaths: []string{}, ReadonlyPaths: []string{"/proc/x"}}), fakeHost())
	if len(s.Linux.MaskedPaths) != 0 || !slices.Equal(s.Linux.ReadonlyPaths, []string{"/proc/x"}) {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestGenerate_DeviceCgroupRules(t *testing.T) {
	s := mustGenerate(t, genInput(t, &container.Config{}, &container.HostConfig{Resources: container.Resources{
		DeviceCgroupRules: []string{"c 42:* rmw", "a"},
		Devices:           []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rw"}},
	}}), fakeHost())
	rules := s.Linux.Resources.Devices
	if len(rules) != 11 {
		t.Fatalf("rules %+v", rules)
	}
	null, c42, all := rules[8], rules[9], rules[10]
	if !null.Allow || null.Type != "c" || *null.Major != 1 || *null.Minor != 3 || null.Access != "rw" {
		t.Errorf("--device rule %+v", null)
	}
	if c42.Type != "c" || *c42.Major != 42 || *c42.Minor != -1 || c42.Access != "rmw" {
		t.Errorf("rule %+v", c42)
	}
	if all.Type != "a" || *all.Major != -1 || all.Access != "rwm" {
		t.Errorf("rule %+v", all)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/mynull" || s.Linux.Devices[0].Major != 1 {
		t.Errorf("devices %+v", s.Linux.Devices)
	}
}

func TestDefaultMaskedPaths_HasDockerList(t *testing.T) {
	got := DefaultMaskedPaths()
	for _, p := range []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		"/sys/devices/virtual/powercap", "/proc/interrupts"} {
		if !slices.Contains(got, p) {
			t.Errorf("%s not masked", p)
		}
	}
	for _, p := range got {
		if strings.Contains(p, "thermal_throttle") {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s masked but missing", p)
			}
		}
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}}, {"0-3", []int{0, 1, 2, 3}}, {"0,2-3", []int{0, 2, 3}}, {"", nil}, {"3-1", nil}, {"x", nil}, {"-1", nil},
	}
	for _, tt := range tests {
		if got := parseCPUList(tt.in, 100); !slices.Equal(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if got := parseCPUList("0-99999999", 8); len(got) != 8 {
		t.Errorf("limit not applied: %d", len(got))
	}
}

func FuzzDeviceCgroupRule(f *testing.F) {
	for _, s := range []string{"a", "c 1:3 rwm", "b *:* r", "c 1:3  rwm", "c 99999999999999999999:1 r", "x 1:1 r", "c 1:1 rwmx", "c :1 r", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rule string) {
		r, err := deviceCgroupRule(rule)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("unclassified %v", err)
			}
			return
		}
		if r.Major == nil || r.Minor == nil || *r.Major < -1 || *r.Minor < -1 || !validAccess(r.Access) {
			t.Fatalf("accepted %q as %+v", rule, r)
		}
	})
}
