package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/pflag"
)

// Pull policies of --pull.
const (
	pullMissing = "missing"
	pullAlways  = "always"
	pullNever   = "never"
)

// defaultDetachKeys is Docker's detach sequence.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// containerOptions holds the raw values of the flags shared by run and
// create. parse turns them into a containerSpec.
type containerOptions struct {
	attach, env, envFile, labels, labelFile, publish, expose []string
	volumes, mounts, tmpfs, addHost, dns, dnsOpt, dnsSearch  []string
	capAdd, capDrop, securityOpt, logOpt, groupAdd, sysctls  []string
	ulimits, networkAliases, links, linkLocalIPs             []string
	networks                                                 networkList

	interactive, tty, rm, readOnly, init, privileged, publishAll bool
	detach, sigProxy, quiet                                      bool

	name, workdir, user, entrypoint, hostname, domainname, restart string
	stopSignal, logDriver, platform, pull, detachKeys              string
	ipv4, ipv6, macAddress                                         string
	cidfile, memory, memorySwap, memoryReservation, cpus, shmSize  string
	cpusetCpus, pidMode, ipcMode, utsMode, cgroupnsMode, runtime   string

	stopTimeout int
	pidsLimit   int64
	cpuShares   int64
}

// addContainerFlags registers Docker's run/create flags on fs. withRun adds
// the flags only `run` has (-d, --sig-proxy, --detach-keys, --rm is shared).
func addContainerFlags(fs *pflag.FlagSet, withRun bool) *containerOptions {
	o := &containerOptions{}
	fs.SetInterspersed(false)
	fs.StringArrayVarP(&o.attach, "attach", "a", nil, "Attach to STDIN, STDOUT or STDERR")
	fs.StringArrayVar(&o.addHost, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&o.capAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringArrayVar(&o.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringVar(&o.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.StringVar(&o.cpus, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&o.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.StringVar(&o.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringArrayVar(&o.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&o.dnsOpt, "dns-option", nil, "Set DNS options")
	fs.StringArrayVar(&o.dnsOpt, "dns-opt", nil, "Set DNS options")
	_ = fs.MarkHidden("dns-opt")
	fs.StringArrayVar(&o.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringVar(&o.domainname, "domainname", "", "Container NIS domain name")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&o.envFile, "env-file", nil, "Read in a file of environment variables")
	fs.StringArrayVar(&o.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVar(&o.groupAdd, "group-add", nil, "Add additional groups to join")
	fs.StringVarP(&o.hostname, "hostname", "h", "", "Container host name")
	fs.BoolVar(&o.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.BoolVarP(&o.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.StringVar(&o.ipcMode, "ipc", "", "IPC mode to use")
	fs.StringArrayVarP(&o.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringArrayVar(&o.labelFile, "label-file", nil, "Read in a line delimited file of labels")
	fs.StringVar(&o.logDriver, "log-driver", "", "Logging driver for the container")
	fs.StringArrayVar(&o.logOpt, "log-opt", nil, "Log driver options")
	fs.StringVarP(&o.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&o.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fs.StringVar(&o.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringArrayVar(&o.mounts, "mount", nil, "Attach a filesystem mount to the container")
	fs.StringVar(&o.name, "name", "", "Assign a name to the container")
	fs.Var(&o.networks, "network", "Connect a container to a network")
	fs.Var(&o.networks, "net", "Connect a container to a network")
	_ = fs.MarkHidden("net")
	fs.StringArrayVar(&o.networkAliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringArrayVar(&o.networkAliases, "net-alias", nil, "Add network-scoped alias for the container")
	_ = fs.MarkHidden("net-alias")
	fs.StringVar(&o.ipv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&o.ipv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fs.StringArrayVar(&o.links, "link", nil, "Add link to another container")
	fs.StringArrayVar(&o.linkLocalIPs, "link-local-ip", nil, "Container IPv4/IPv6 link-local addresses")
	fs.StringVar(&o.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringVar(&o.pidMode, "pid", "", "PID namespace to use")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&o.platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.BoolVar(&o.privileged, "privileged", false, "Give extended privileges to this container")
	fs.StringArrayVarP(&o.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.BoolVarP(&o.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringVar(&o.pull, "pull", pullMissing, `Pull image before running ("always", "missing", "never")`)
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress the pull output")
	fs.BoolVar(&o.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&o.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.BoolVar(&o.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.StringVar(&o.runtime, "runtime", "", "Runtime to use for this container")
	fs.StringArrayVar(&o.securityOpt, "security-opt", nil, "Security Options")
	fs.StringVar(&o.shmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringVar(&o.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&o.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringArrayVar(&o.sysctls, "sysctl", nil, "Sysctl options")
	fs.StringArrayVar(&o.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.BoolVarP(&o.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.StringArrayVar(&o.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringVarP(&o.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&o.utsMode, "uts", "", "UTS namespace to use")
	fs.StringVar(&o.cgroupnsMode, "cgroupns", "", `Cgroup namespace to use (host|private)`)
	fs.StringArrayVarP(&o.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringVarP(&o.workdir, "workdir", "w", "", "Working directory inside the container")
	if withRun {
		fs.BoolVarP(&o.detach, "detach", "d", false, "Run container in background and print container ID")
		fs.StringVar(&o.detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
		fs.BoolVar(&o.sigProxy, "sig-proxy", true, "Proxy received signals to the process")
	}
	return o
}

// containerSpec is everything ContainerCreate needs, plus the client-side
// settings of run/create.
type containerSpec struct {
	Config     *container.Config
	HostConfig *container.HostConfig
	Networking *network.NetworkingConfig
	Platform   *ocispec.Platform
	Name       string
	Pull       string
}

// parseEnv is the environment and file access parse needs, injected so that
// parsing stays pure in tests.
type parseEnv struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
}

// osParseEnv reads the real environment and files.
func osParseEnv() parseEnv { return parseEnv{lookupEnv: os.LookupEnv, readFile: os.ReadFile} }

// flagError formats a bad flag value the way pflag does.
func flagError(fs *pflag.FlagSet, name, value string, err error) error {
	f := fs.Lookup(name)
	label := "--" + name
	if f != nil && f.Shorthand != "" {
		label = "-" + f.Shorthand + ", --" + name
	}
	return &flagValueError{msg: fmt.Sprintf("invalid argument %q for %q flag: %v", value, label, err), err: err}
}

// flagValueError is a flag value that failed validation; run and create
// report it like a flag error.
type flagValueError struct {
	msg string
	err error
}

// Error returns the message in pflag's words.
func (e *flagValueError) Error() string { return e.msg }

// Unwrap returns the validation error.
func (e *flagValueError) Unwrap() error { return e.err }

// parse validates the flag values and builds the container configuration.
// args are the positional arguments: IMAGE [COMMAND] [ARG...].
func (o *containerOptions) parse(fs *pflag.FlagSet, args []string, penv parseEnv) (*containerSpec, error) {
	if len(args) == 0 {
		return nil, errors.New("image name is required")
	}
	spec := &containerSpec{Name: o.name}
	cfg := &container.Config{Image: args[0], Hostname: o.hostname, Domainname: o.domainname,
		User: o.user, WorkingDir: o.workdir, Tty: o.tty, OpenStdin: o.interactive, StopSignal: o.stopSignal}
	hc := &container.HostConfig{ReadonlyRootfs: o.readOnly, Privileged: o.privileged,
		PublishAllPorts: o.publishAll, AutoRemove: o.rm, ContainerIDFile: o.cidfile,
		CapAdd: o.capAdd, CapDrop: o.capDrop, GroupAdd: o.groupAdd, DNSSearch: o.dnsSearch,
		DNSOptions: o.dnsOpt, Runtime: o.runtime, PidMode: container.PidMode(o.pidMode),
		IpcMode: container.IpcMode(o.ipcMode), UTSMode: container.UTSMode(o.utsMode),
		CgroupnsMode: container.CgroupnsMode(o.cgroupnsMode)}
	spec.Config, spec.HostConfig = cfg, hc
	if len(args) > 1 {
		cfg.Cmd = append([]string(nil), args[1:]...)
	}
	if o.entrypoint != "" {
		cfg.Entrypoint = []string{o.entrypoint}
	} else if fs.Changed("entrypoint") {
		cfg.Entrypoint = []string{""}
	}

	// Streams: -i adds stdin; without -a, stdout and stderr are attached.
	for _, a := range o.attach {
		switch strings.ToLower(a) {
		case "stdin":
			cfg.AttachStdin = true
		case "stdout":
			cfg.AttachStdout = true
		case "stderr":
			cfg.AttachStderr = true
		default:
			return nil, flagError(fs, "attach", a, errors.New("valid streams are STDIN, STDOUT and STDERR"))
		}
	}
	if o.interactive {
		cfg.AttachStdin = true
	}
	if len(o.attach) == 0 {
		cfg.AttachStdout, cfg.AttachStderr = true, true
	}
	if cfg.OpenStdin && cfg.AttachStdin {
		cfg.StdinOnce = true
	}
	if o.detach {
		if len(o.attach) != 0 {
			return nil, errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.StdinOnce = false, false, false, false
	}
	if o.detachKeys != "" {
		if _, err := parseDetachKeys(o.detachKeys); err != nil {
			return nil, flagError(fs, "detach-keys", o.detachKeys, err)
		}
	}

	env, err := o.parseEnvVars(fs, penv)
	if err != nil {
		return nil, err
	}
	cfg.Env = env
	labels, err := o.parseLabels(fs, penv)
	if err != nil {
		return nil, err
	}
	cfg.Labels = labels

	if fs.Changed("stop-timeout") {
		t := o.stopTimeout
		cfg.StopTimeout = &t
	}
	if fs.Changed("init") {
		b := o.init
		hc.Init = &b
	}
	if fs.Changed("pids-limit") {
		n := o.pidsLimit
		hc.PidsLimit = &n
	}
	hc.CPUShares = o.cpuShares
	hc.CpusetCpus = o.cpusetCpus

	if err := o.parsePorts(fs, cfg, hc); err != nil {
		return nil, err
	}
	if err := o.parseStorage(fs, cfg, hc); err != nil {
		return nil, err
	}
	if err := o.parseResources(fs, hc); err != nil {
		return nil, err
	}
	if err := o.parseNetwork(fs, hc, spec); err != nil {
		return nil, err
	}

	rp, err := parseRestartPolicy(o.restart)
	if err != nil {
		return nil, err
	}
	if o.rm && !rp.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	hc.RestartPolicy = rp

	hc.LogConfig.Type = o.logDriver
	if len(o.logOpt) > 0 {
		hc.LogConfig.Config = map[string]string{}
		for _, v := range o.logOpt {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return nil, flagError(fs, "log-opt", v, errors.New("must be a key=value pair"))
			}
			hc.LogConfig.Config[k] = val
		}
	}
	if len(o.sysctls) > 0 {
		hc.Sysctls = map[string]string{}
		for _, v := range o.sysctls {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return nil, flagError(fs, "sysctl", v, fmt.Errorf("sysctl '%s' is not allowed", v))
			}
			hc.Sysctls[k] = val
		}
	}
	sec, err := parseSecurityOpts(o.securityOpt, penv.readFile)
	if err != nil {
		return nil, err
	}
	hc.SecurityOpt = sec

	if o.platform != "" {
		p, err := parsePlatform(o.platform)
		if err != nil {
			return nil, flagError(fs, "platform", o.platform, err)
		}
		spec.Platform = &p
	}
	switch o.pull {
	case pullMissing, pullAlways, pullNever:
		spec.Pull = o.pull
	default:
		return nil, fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, o.pull)
	}
	if !hc.CgroupnsMode.Valid() {
		return nil, fmt.Errorf("--cgroupns: invalid CGROUP mode")
	}
	return spec, nil
}

func (o *containerOptions) parseEnvVars(fs *pflag.FlagSet, penv parseEnv) ([]string, error) {
	var env []string
	for _, f := range o.envFile {
		lines, err := parseKeyValueFile(f, penv)
		if err != nil {
			return nil, err
		}
		env = append(env, lines...)
	}
	for _, e := range o.env {
		v, err := validateEnv(e, penv.lookupEnv)
		if err != nil {
			return nil, flagError(fs, "env", e, err)
		}
		env = append(env, v)
	}
	return env, nil
}

func (o *containerOptions) parseLabels(fs *pflag.FlagSet, penv parseEnv) (map[string]string, error) {
	var kvs []string
	for _, f := range o.labelFile {
		lines, err := parseKeyValueFile(f, parseEnv{lookupEnv: func(string) (string, bool) { return "", true }, readFile: penv.readFile})
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, lines...)
	}
	for _, l := range o.labels {
		if strings.HasPrefix(l, "=") || l == "" {
			return nil, flagError(fs, "label", l, errors.New("invalid label: empty name"))
		}
		kvs = append(kvs, l)
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m, nil
}

func (o *containerOptions) parsePorts(fs *pflag.FlagSet, cfg *container.Config, hc *container.HostConfig) error {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range o.publish {
		maps, err := parsePublish(p)
		if err != nil {
			return flagError(fs, "publish", p, err)
		}
		for _, m := range maps {
			exposed[m.port] = struct{}{}
			bindings[m.port] = append(bindings[m.port], m.binding)
		}
	}
	for _, e := range o.expose {
		ports, err := parseExpose(e)
		if err != nil {
			return err
		}
		for _, p := range ports {
			exposed[p] = struct{}{}
		}
	}
	if len(exposed) > 0 {
		cfg.ExposedPorts = exposed
	}
	if len(bindings) > 0 {
		hc.PortBindings = bindings
	}
	return nil
}

func (o *containerOptions) parseStorage(fs *pflag.FlagSet, cfg *container.Config, hc *container.HostConfig) error {
	for _, v := range o.volumes {
		vs, err := parseVolume(v)
		if err != nil {
			return flagError(fs, "volume", v, err)
		}
		if vs.source == "" {
			if cfg.Volumes == nil {
				cfg.Volumes = map[string]struct{}{}
			}
			cfg.Volumes[v] = struct{}{}
			continue
		}
		bind := v
		if vs.isBind() && strings.HasPrefix(vs.source, ".") {
			if abs, err := filepath.Abs(vs.source); err == nil {
				bind = abs + v[len(vs.source):]
			}
		}
		hc.Binds = append(hc.Binds, bind)
	}
	for _, m := range o.mounts {
		mt, err := parseMount(m)
		if err != nil {
			return flagError(fs, "mount", m, err)
		}
		hc.Mounts = append(hc.Mounts, mt)
	}
	for _, t := range o.tmpfs {
		dst, opts, _ := strings.Cut(t, ":")
		if dst == "" || !strings.HasPrefix(dst, "/") {
			return flagError(fs, "tmpfs", t, fmt.Errorf("invalid tmpfs destination %q: must be an absolute path", dst))
		}
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[dst] = opts
	}
	return nil
}

func (o *containerOptions) parseResources(fs *pflag.FlagSet, hc *container.HostConfig) error {
	bytesFlag := func(name, v string, allowMinusOne bool) (int64, error) {
		if v == "" {
			return 0, nil
		}
		if allowMinusOne && v == "-1" {
			return -1, nil
		}
		n, err := units.RAMInBytes(v)
		if err != nil {
			return 0, flagError(fs, name, v, err)
		}
		return n, nil
	}
	var err error
	if hc.Memory, err = bytesFlag("memory", o.memory, false); err != nil {
		return err
	}
	if hc.MemorySwap, err = bytesFlag("memory-swap", o.memorySwap, true); err != nil {
		return err
	}
	if hc.MemoryReservation, err = bytesFlag("memory-reservation", o.memoryReservation, false); err != nil {
		return err
	}
	if hc.ShmSize, err = bytesFlag("shm-size", o.shmSize, false); err != nil {
		return err
	}
	if o.cpus != "" {
		n, err := parseNanoCPUs(o.cpus)
		if err != nil {
			return flagError(fs, "cpus", o.cpus, err)
		}
		hc.NanoCPUs = n
	}
	for _, u := range o.ulimits {
		ul, err := units.ParseUlimit(u)
		if err != nil {
			return flagError(fs, "ulimit", u, err)
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	return nil
}

func (o *containerOptions) parseNetwork(fs *pflag.FlagSet, hc *container.HostConfig, spec *containerSpec) error {
	mode, endpoints, err := networkingConfig(o.networks.values, endpointFlags{
		aliases: o.networkAliases, links: o.links, linkLocalIPs: o.linkLocalIPs,
		ipv4: o.ipv4, ipv6: o.ipv6, macAddress: o.macAddress,
	})
	if err != nil {
		return err
	}
	hc.NetworkMode = mode
	spec.Networking = &network.NetworkingConfig{EndpointsConfig: endpoints}
	for _, l := range o.links {
		if err := validateLink(l); err != nil {
			return flagError(fs, "link", l, err)
		}
	}
	hc.Links = o.links
	for _, s := range o.dns {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return flagError(fs, "dns", s, fmt.Errorf("%s is not an ip address", s))
		}
		hc.DNS = append(hc.DNS, a)
	}
	for _, h := range o.addHost {
		v, err := validateExtraHost(h)
		if err != nil {
			return flagError(fs, "add-host", h, err)
		}
		hc.ExtraHosts = append(hc.ExtraHosts, v)
	}
	return nil
}

// validateEnv checks one -e value; a bare NAME takes its value from the
// client's environment when set there (docker opts.ValidateEnv).
func validateEnv(val string, lookup func(string) (string, bool)) (string, error) {
	k, _, hasValue := strings.Cut(val, "=")
	if k == "" {
		return "", errors.New("invalid environment variable: " + val)
	}
	if hasValue {
		return val, nil
	}
	if v, ok := lookup(k); ok {
		return k + "=" + v, nil
	}
	return val, nil
}

// parseKeyValueFile reads an --env-file or --label-file: one KEY=VALUE per
// line, blank lines and #comments skipped, a bare KEY taken from lookupEnv
// (and dropped when unset there).
func parseKeyValueFile(name string, penv parseEnv) ([]string, error) {
	data, err := penv.readFile(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := sc.Bytes()
		if !utf8.Valid(raw) {
			return nil, fmt.Errorf("env file %s contains invalid utf8 bytes at line %d", name, n)
		}
		line := strings.TrimLeftFunc(string(raw), unicode.IsSpace)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, hasValue := strings.Cut(line, "=")
		k = strings.TrimLeft(k, " \t")
		if strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("variable '%s' contains whitespaces", k)
		}
		if k == "" {
			return nil, fmt.Errorf("no variable name on line '%s'", line)
		}
		if hasValue {
			out = append(out, k+"="+v)
			continue
		}
		if val, ok := penv.lookupEnv(k); ok {
			out = append(out, k+"="+val)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// parseRestartPolicy parses --restart: no, always, unless-stopped,
// on-failure[:max-retries].
func parseRestartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{Name: container.RestartPolicyDisabled}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	if name == "" {
		return container.RestartPolicy{}, errors.New("invalid restart policy format: no policy provided before colon")
	}
	p := container.RestartPolicy{Name: container.RestartPolicyMode(name)}
	if hasCount {
		n, err := strconv.Atoi(count)
		if err != nil {
			return container.RestartPolicy{}, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	if err := container.ValidateRestartPolicy(p); err != nil {
		return container.RestartPolicy{}, err
	}
	return p, nil
}

// parseNanoCPUs turns a decimal CPU count ("1.5") into NanoCPUs.
func parseNanoCPUs(s string) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("failed to parse %v as a rational number", s)
	}
	if r.Sign() < 0 {
		return 0, errors.New("value must be positive")
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, errors.New("value is too precise")
	}
	if !nano.Num().IsInt64() {
		return 0, errors.New("value is too large")
	}
	return nano.Num().Int64(), nil
}

// validateExtraHost checks --add-host host:ip (or host=ip) and returns the
// host:ip form the API takes.
func validateExtraHost(val string) (string, error) {
	host, ip, ok := strings.Cut(val, "=")
	if !ok {
		host, ip, ok = strings.Cut(val, ":")
	}
	if !ok || host == "" || ip == "" {
		return "", fmt.Errorf("bad format for add-host: %q", val)
	}
	if ip != "host-gateway" {
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if _, err := netip.ParseAddr(ip); err != nil {
			return "", fmt.Errorf("invalid IP address in add-host: %q", ip)
		}
	}
	return host + ":" + ip, nil
}

// parseSecurityOpts validates --security-opt values and replaces
// seccomp=<file> by the profile's JSON, as the docker CLI does.
func parseSecurityOpts(opts []string, readFile func(string) ([]byte, error)) ([]string, error) {
	out := make([]string, 0, len(opts))
	for _, opt := range opts {
		if opt == "systempaths=unconfined" {
			out = append(out, opt)
			continue
		}
		sep := "="
		if !strings.Contains(opt, "=") && strings.Contains(opt, ":") {
			sep = ":"
		}
		k, v, ok := strings.Cut(opt, sep)
		if !ok && k != "no-new-privileges" {
			return nil, fmt.Errorf("invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "unconfined" && v != "builtin" {
			b, err := readFile(v)
			if err != nil {
				return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, b); err != nil {
				return nil, fmt.Errorf("compacting json for seccomp profile (%s) failed: %w", v, err)
			}
			opt = "seccomp=" + buf.String()
		}
		out = append(out, opt)
	}
	return out, nil
}

// parsePlatform parses os[/arch[/variant]].
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q", s)
	}
	for _, p := range parts {
		if p == "" {
			return ocispec.Platform{}, fmt.Errorf("invalid platform %q", s)
		}
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

// parseDetachKeys parses a detach sequence such as "ctrl-p,ctrl-q" into
// bytes (docker term.ToBytes).
func parseDetachKeys(keys string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(keys, ",") {
		if len(k) > 1 && !strings.HasPrefix(k, "ctrl-") {
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
		if len(k) == 1 {
			out = append(out, k[0])
			continue
		}
		if len(k) != len("ctrl-")+1 {
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
		c := k[len("ctrl-")]
		switch {
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+1)
		case c == '@':
			out = append(out, 0)
		case c >= '[' && c <= '_':
			out = append(out, c-'['+27)
		default:
			return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("invalid detach keys (%s) provided", keys)
	}
	return out, nil
}

// validateLink checks a --link value: name or name:alias.
func validateLink(val string) error {
	name, alias, hasAlias := strings.Cut(val, ":")
	if name == "" || (hasAlias && alias == "") {
		return fmt.Errorf("invalid format for link: %s", val)
	}
	return nil
}
