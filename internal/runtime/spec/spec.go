package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// Input is what Generate needs to build a container's spec. Config and
// HostConfig are read, never modified; nil means the zero value.
type Input struct {
	// ID is the container ID; it is only used in log lines.
	ID string
	// Rootfs is the absolute host path of the mounted root filesystem.
	Rootfs string
	// Args is the final argv: the caller has combined Entrypoint and Cmd.
	Args []string
	// Config is the container's configuration (env, user, tty, cwd…).
	Config *container.Config
	// HostConfig is the container's host configuration (mounts, caps…).
	HostConfig *container.HostConfig
	// Hostname is the resolved hostname; it is also HOSTNAME in the env.
	Hostname string
	// EtcFiles maps a container path ("/etc/hosts", "/etc/resolv.conf",
	// "/etc/hostname") to the host file bind-mounted there. A user mount on
	// the same path wins. May be empty.
	EtcFiles map[string]string
	// NetNSPath is the network namespace to join; "" creates a new one
	// holding only loopback. It is ignored for NetworkMode "host", which
	// keeps the host's network namespace.
	NetNSPath string
	// PIDNSPath and IPCNSPath join another container's PID or IPC
	// namespace (--pid / --ipc container:NAME); "" makes new ones.
	PIDNSPath string
	IPCNSPath string
	// InitPath is the host path of the init binary, bind-mounted read-only
	// at /sbin/docker-init when HostConfig.Init is true.
	InitPath string
	// CgroupsPath is the runtime's cgroupsPath, e.g. "/berth/<id>".
	CgroupsPath string
}

// host is what Generate reads from the machine it runs on, the same facts
// dockerd reads. Tests replace it.
type host struct {
	caps capSet
	// cgroup2 is true on a unified (v2) cgroup hierarchy.
	cgroup2 bool
	// recursiveRO is true when the kernel can make bind mounts
	// recursively read-only (mount_setattr, Linux 5.12).
	recursiveRO  bool
	sysctlExists func(name string) bool
	maskedPaths  func() []string
	devices      func() ([]specs.LinuxDevice, error)
}

// probeHost reads the host facts Generate needs.
func probeHost() host {
	var fs unix.Statfs_t
	cg2 := unix.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type == unix.CGROUP2_SUPER_MAGIC
	return host{
		caps:        probeCaps(),
		cgroup2:     cg2,
		recursiveRO: kernelAtLeast(5, 12),
		sysctlExists: func(name string) bool {
			_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
			return err == nil
		},
		maskedPaths: DefaultMaskedPaths,
		devices:     hostDevices,
	}
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Generate builds the OCI runtime spec for a container with dockerd's
// defaults. It reads the container's /etc/passwd and /etc/group (see
// ResolveUser) and a few host facts, and creates missing -v bind source
// directories as dockerd does. Invalid configuration is
// errdefs.ErrInvalidArgument with dockerd's message; volume mounts, and
// joining another container's PID or IPC namespace, are
// errdefs.ErrNotImplemented.
func Generate(ctx context.Context, in Input) (*specs.Spec, error) {
	return generate(ctx, in, probeHost())
}

func generate(ctx context.Context, in Input, h host) (*specs.Spec, error) {
	cfg := in.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	hc := in.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	if !filepath.IsAbs(in.Rootfs) {
		return nil, fmt.Errorf("rootfs %q is not an absolute path: %w", in.Rootfs, errdefs.ErrInvalidArgument)
	}
	if len(in.Args) == 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("No command specified")
	}
	if err := validateModes(hc); err != nil {
		return nil, err
	}
	sec, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version:  ociVersion,
		Root:     &specs.Root{Path: in.Rootfs, Readonly: hc.ReadonlyRootfs},
		Hostname: in.Hostname,
		Process:  &specs.Process{},
		Linux: &specs.Linux{
			CgroupsPath: in.CgroupsPath,
			Sysctl:      map[string]string{},
		},
	}
	if hc.UTSMode.IsHost() {
		s.Hostname = ""
	} else {
		s.Domainname = cfg.Domainname
	}

	if err := setProcess(s.Process, in, cfg, hc, sec); err != nil {
		return nil, err
	}
	caps, err := h.caps.capabilities(hc.CapAdd, hc.CapDrop, hc.Privileged)
	if err != nil {
		return nil, err
	}
	if s.Process.User.UID == 0 {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	} else {
		// Like execve for a non-root user, dockerd leaves the effective
		// and permitted sets empty.
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps}
	}

	s.Linux.Namespaces = namespaces(in, hc, h)
	initMount, err := setInit(s.Process, in, hc)
	if err != nil {
		return nil, err
	}
	if s.Mounts, err = mounts(ctx, in, hc, sec, h, initMount); err != nil {
		return nil, err
	}

	if !hc.Privileged {
		s.Linux.MaskedPaths = h.maskedPaths()
		if hc.MaskedPaths != nil {
			s.Linux.MaskedPaths = slices.Clone(hc.MaskedPaths)
		}
		s.Linux.ReadonlyPaths = DefaultReadonlyPaths()
		if hc.ReadonlyPaths != nil {
			s.Linux.ReadonlyPaths = slices.Clone(hc.ReadonlyPaths)
		}
	}

	if s.Linux.Resources, err = resources(hc.Resources); err != nil {
		return nil, err
	}
	if s.Linux.Devices, s.Linux.Resources.Devices, err = devices(hc, h); err != nil {
		return nil, err
	}

	// dockerd's default sysctls for a container with its own network
	// namespace: ping without CAP_NET_RAW, low ports without
	// CAP_NET_BIND_SERVICE.
	if !hc.NetworkMode.IsHost() && !hc.NetworkMode.IsContainer() {
		if h.sysctlExists("net.ipv4.ping_group_range") {
			s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if h.sysctlExists("net.ipv4.ip_unprivileged_port_start") {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	for k, v := range hc.Sysctls {
		s.Linux.Sysctl[k] = v
	}

	if s.Linux.Seccomp, err = seccompProfile(s, sec.seccomp, hc.Privileged); err != nil {
		return nil, err
	}
	log.From(ctx).Debug("generated runtime spec", "container", in.ID)
	return s, nil
}

// validateModes checks the namespace modes this package handles.
func validateModes(hc *container.HostConfig) error {
	switch {
	case !hc.IpcMode.Valid():
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid IPC mode: %v", hc.IpcMode))
	case !hc.PidMode.Valid():
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid PID mode: %v", hc.PidMode))
	case !hc.UTSMode.Valid():
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid UTS mode: %v", hc.UTSMode))
	case !hc.CgroupnsMode.Valid():
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid cgroup namespace mode: %v", hc.CgroupnsMode))
	case !hc.UsernsMode.Valid():
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid USER mode: %v", hc.UsernsMode))
	case hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj))
	}
	return nil
}

// setProcess fills argv, env, cwd, terminal, user and the process limits.
func setProcess(p *specs.Process, in Input, cfg *container.Config, hc *container.HostConfig, sec securityOpts) error {
	p.Args = slices.Clone(in.Args)
	p.Env = Env(cfg.Env, in.Hostname, cfg.Tty)
	p.Cwd = "/"
	if cfg.WorkingDir != "" {
		if !path.IsAbs(cfg.WorkingDir) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir))
		}
		p.Cwd = path.Clean(cfg.WorkingDir)
	}
	p.Terminal = cfg.Tty
	if cfg.Tty && hc.ConsoleSize != [2]uint{} {
		p.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}
	user, err := ResolveUser(in.Rootfs, cfg.User, hc.GroupAdd)
	if err != nil {
		return err
	}
	if hc.Umask != nil {
		user.Umask = ptr(*hc.Umask)
	}
	p.User = user
	p.NoNewPrivileges = sec.noNewPrivileges
	p.OOMScoreAdj = ptr(hc.OomScoreAdj)
	if p.Rlimits, err = rlimits(hc.Ulimits); err != nil {
		return err
	}
	return nil
}

// Env builds the container's environment as dockerd does: PATH (the
// default), HOSTNAME and, with a TTY, TERM=xterm come first; env entries
// replace them or are appended, and an entry without "=" removes the
// variable.
func Env(env []string, hostname string, tty bool) []string {
	out := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if tty {
		out = append(out, "TERM=xterm")
	}
	index := map[string]int{}
	for i, e := range out {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	for _, e := range env {
		k, _, hasValue := strings.Cut(e, "=")
		i, exists := index[k]
		switch {
		case !hasValue && exists:
			out[i] = ""
		case !hasValue:
		case exists:
			out[i] = e
		default:
			index[k] = len(out)
			out = append(out, e)
		}
	}
	return slices.DeleteFunc(out, func(e string) bool { return e == "" })
}

// setInit wraps argv with docker-init and returns its bind mount, when
// HostConfig.Init asks for it and the container has its own PID namespace.
func setInit(p *specs.Process, in Input, hc *container.HostConfig) (*specs.Mount, error) {
	if hc.Init == nil || !*hc.Init || hc.PidMode.IsHost() || hc.PidMode.IsContainer() {
		return nil, nil
	}
	if in.InitPath == "" {
		return nil, fmt.Errorf("init requested but no init binary is configured: %w", errdefs.ErrFailedPrecondition)
	}
	p.Args = append([]string{InitPathInContainer, "--"}, p.Args...)
	return &specs.Mount{Destination: InitPathInContainer, Type: "bind", Source: in.InitPath, Options: []string{"bind", "ro"}}, nil
}

// namespaces returns dockerd's namespace list: mount, network, uts, pid, ipc,
// then cgroup when private.
func namespaces(in Input, hc *container.HostConfig, h host) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}
	if !hc.NetworkMode.IsHost() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.NetNSPath})
	}
	if !hc.UTSMode.IsHost() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}
	if !hc.PidMode.IsHost() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: in.PIDNSPath})
	}
	if !hc.IpcMode.IsHost() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: in.IPCNSPath})
	}
	// dockerd's default cgroupns mode is private on cgroup v2, host on v1.
	private := hc.CgroupnsMode.IsPrivate() || (hc.CgroupnsMode.IsEmpty() && h.cgroup2)
	if private {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	return ns
}

// etcFileOrder is the order dockerd mounts its network files in.
func etcFileOrder(files map[string]string) []string {
	var keys []string
	for _, k := range []string{"/etc/resolv.conf", "/etc/hostname", "/etc/hosts"} {
		if _, ok := files[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range files {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// mounts builds the mount list in dockerd's order: the default mounts not
// overridden by the user, the init binary, then the user's mounts (network
// files, -v binds, --mount, --tmpfs) sorted parents first.
func mounts(ctx context.Context, in Input, hc *container.HostConfig, sec securityOpts, h host, initMount *specs.Mount) ([]specs.Mount, error) {
	var binds []bindMount
	var tmpfs []specs.Mount
	for _, raw := range hc.Binds {
		b, err := parseBind(raw)
		if err != nil {
			return nil, err
		}
		binds = append(binds, b)
	}
	for _, m := range hc.Mounts {
		b, t, err := apiMount(m)
		if err != nil {
			return nil, err
		}
		if b != nil {
			binds = append(binds, *b)
		} else {
			tmpfs = append(tmpfs, *t)
		}
	}
	tmpfsDests := make([]string, 0, len(hc.Tmpfs))
	for dst := range hc.Tmpfs {
		tmpfsDests = append(tmpfsDests, dst)
	}
	sort.Strings(tmpfsDests)
	for _, dst := range tmpfsDests {
		t, err := tmpfsMount(dst, hc.Tmpfs[dst])
		if err != nil {
			return nil, err
		}
		tmpfs = append(tmpfs, t)
	}
	if hc.IpcMode.IsHost() {
		binds = append(binds, bindMount{source: "/dev/shm", target: "/dev/shm"})
	}

	var user []specs.Mount
	dests := map[string]bool{}
	for _, b := range binds {
		if dests[b.target] {
			return nil, errDuplicateMount(b.target)
		}
		dests[b.target] = true
		if b.createSource {
			if err := ensureBindSource(ctx, b.source); err != nil {
				return nil, err
			}
		}
		m, err := b.specMount(h.recursiveRO)
		if err != nil {
			return nil, err
		}
		user = append(user, m)
	}
	for _, t := range tmpfs {
		if dests[t.Destination] {
			return nil, errDuplicateMount(t.Destination)
		}
		dests[t.Destination] = true
		user = append(user, t)
	}
	var etc []specs.Mount
	for _, key := range etcFileOrder(in.EtcFiles) {
		dst := path.Clean(key)
		if dests[dst] {
			continue
		}
		if !path.IsAbs(dst) {
			return nil, fmt.Errorf("etc file destination %q is not absolute: %w", dst, errdefs.ErrInvalidArgument)
		}
		dests[dst] = true
		m, err := bindMount{source: in.EtcFiles[key], target: dst, readOnly: hc.ReadonlyRootfs}.specMount(h.recursiveRO)
		if err != nil {
			return nil, err
		}
		etc = append(etc, m)
	}
	user = append(etc, user...)
	sort.SliceStable(user, func(i, j int) bool {
		return mountDepth(user[i].Destination) < mountDepth(user[j].Destination)
	})

	shmSize := hc.ShmSize
	if shmSize == 0 {
		shmSize = DefaultShmSize
	}
	var out []specs.Mount
	for _, m := range defaultMounts() {
		switch {
		case dests[m.Destination]:
			continue
		case dests["/dev"] && strings.HasPrefix(m.Destination, "/dev/"):
			continue
		case m.Destination == "/dev/shm":
			if hc.IpcMode.IsNone() {
				continue
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(shmSize, 10))
		}
		out = append(out, m)
	}
	if initMount != nil {
		out = append(out, *initMount)
	}
	for i := range out {
		m := &out[i]
		switch m.Destination {
		case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
		default:
			if hc.ReadonlyRootfs && !slices.Contains(m.Options, "ro") {
				m.Options = append(m.Options, "ro")
			}
		}
		if (hc.Privileged && (m.Destination == "/sys" || m.Type == "cgroup")) || (sec.writableCgroups && m.Type == "cgroup") {
			m.Options = slices.DeleteFunc(m.Options, func(o string) bool { return o == "ro" })
		}
	}
	return append(out, user...), nil
}

// ensureBindSource creates a missing bind source directory (0755, root) as
// dockerd does for -v. An existing file is fine.
func ensureBindSource(ctx context.Context, src string) error {
	if _, err := os.Lstat(src); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, unix.ENOTDIR) {
			return nil
		}
		return fmt.Errorf("error while creating mount source path '%s': %w", src, err)
	}
	log.From(ctx).Debug("created bind mount source", "path", src)
	return nil
}

// devices returns the device nodes and device cgroup rules: all host
// devices and everything allowed for privileged containers, else dockerd's
// defaults plus --device and --device-cgroup-rule.
func devices(hc *container.HostConfig, h host) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var devs []specs.LinuxDevice
	if hc.Privileged {
		hostDevs, err := h.devices()
		if err != nil {
			return nil, nil, fmt.Errorf("list host devices: %w", err)
		}
		devs = append(devs, hostDevs...)
		for _, d := range hc.Devices {
			if d.PathOnHost == d.PathInContainer {
				continue
			}
			mapped, _, err := devicesFromMapping(d.PathOnHost, d.PathInContainer, "rwm")
			if err != nil {
				return nil, nil, err
			}
			devs = append(devs, mapped...)
		}
		return devs, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, nil
	}
	rules := defaultDeviceRules()
	for _, d := range hc.Devices {
		mapped, r, err := devicesFromMapping(d.PathOnHost, d.PathInContainer, d.CgroupPermissions)
		if err != nil {
			return nil, nil, err
		}
		devs = append(devs, mapped...)
		rules = append(rules, r...)
	}
	for _, raw := range hc.DeviceCgroupRules {
		r, err := deviceCgroupRule(raw)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r)
	}
	return devs, rules, nil
}

// ociVersion is the spec version written into config.json: dockerd writes
// "1.0.2-dev", and runtimes older than the runtime-spec module (crun 1.8
// rejects "1.3.0") accept it.
const ociVersion = "1.0.2-dev"
