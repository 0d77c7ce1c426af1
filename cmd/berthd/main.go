// Command berthd is the berth engine daemon. It serves the Docker Engine
// API; invoked as `berthd shim CONFIG` it is a container's shim, as
// `berthd registry …` an OCI distribution registry, and under
// the name docker-init it is the init process of `run --init`.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"berth/internal/config"
	"berth/internal/daemon"
	"berth/internal/log"
	"berth/internal/registry"
	"berth/internal/runtime/initproc"
	"berth/internal/runtime/shim"
)

func main() {
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(initproc.Run(os.Args[1:]))
	}
	if len(os.Args) == 3 && os.Args[1] == "shim" {
		os.Exit(runShim(os.Args[2]))
	}
	if len(os.Args) >= 2 && os.Args[1] == "registry" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		code := registry.Main(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "berthd:", err)
		os.Exit(1)
	}
}

func runShim(path string) int {
	var cfg shim.Config
	b, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err == nil {
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
		err = shim.Run(context.Background(), cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		return 1
	}
	return 0
}

func run() error {
	def := config.DefaultConfig()
	fs := pflag.NewFlagSet("berthd", pflag.ContinueOnError)
	hosts := fs.StringArrayP("host", "H", nil, "Daemon socket(s) to listen on (unix:///path)")
	dataRoot := fs.String("data-root", def.DataRoot, "Root directory of persistent state")
	execRoot := fs.String("exec-root", def.ExecRoot, "Root directory for execution state files")
	defRuntime := fs.String("default-runtime", def.DefaultRuntime, "Default OCI runtime for containers")
	addRuntime := fs.StringArray("add-runtime", nil, "Register an additional OCI runtime (NAME=PATH)")
	logLevel := fs.StringP("log-level", "l", def.LogLevel, `Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")`)
	pidfile := fs.StringP("pidfile", "p", def.Pidfile, "Path to use for daemon PID file")
	cfgFile := fs.String("config-file", "/etc/berth/daemon.json", "Daemon configuration file")
	logDriver := fs.String("log-driver", def.LogDriver, "Default driver for container logs")
	logOpts := fs.StringArray("log-opt", nil, "Default log driver options for containers (KEY=VALUE)")
	cgroupParent := fs.String("cgroup-parent", def.CgroupParent, "Parent cgroup for all containers")
	bridgeDev := fs.StringP("bridge", "b", "", "Attach containers to a network bridge (\"none\" disables the default network)")
	bip := fs.String("bip", "", "Network bridge IP")
	fixedCIDR := fs.String("fixed-cidr", "", "IPv4 subnet for fixed IPs")
	pools := fs.StringArray("default-address-pool", nil, "Default address pools for node specific local networks (base=CIDR,size=N)")
	ipForward := fs.Bool("ip-forward", true, "Enable net.ipv4.ip_forward")
	dnsServers := fs.StringArray("dns", nil, "DNS server to use")
	insecureRegs := fs.StringArray("insecure-registry", nil, "Enable insecure registry communication")
	mirrors := fs.StringArray("registry-mirror", nil, "Preferred Docker registry mirror")
	version := fs.BoolP("version", "v", false, "Print version information and quit")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *version {
		fmt.Printf("berthd version %s\n", daemon.Version)
		return nil
	}
	file, set, err := config.LoadFile(*cfgFile, !fs.Changed("config-file"))
	if err != nil {
		return err
	}
	var conflicts []string
	merge := func(flag, key string, apply func(fromFlag bool)) {
		switch {
		case fs.Changed(flag) && set[key]:
			conflicts = append(conflicts, key)
		default:
			apply(fs.Changed(flag) || !set[key])
		}
	}
	cfg := def
	merge("host", "hosts", func(f bool) { cfg.Hosts = pick(f, *hosts, file.Hosts, def.Hosts) })
	merge("data-root", "data-root", func(f bool) { cfg.DataRoot = pickS(f, *dataRoot, file.DataRoot) })
	merge("exec-root", "exec-root", func(f bool) { cfg.ExecRoot = pickS(f, *execRoot, file.ExecRoot) })
	merge("default-runtime", "default-runtime", func(f bool) { cfg.DefaultRuntime = pickS(f, *defRuntime, file.DefaultRuntime) })
	merge("log-level", "log-level", func(f bool) { cfg.LogLevel = pickS(f, *logLevel, file.LogLevel) })
	merge("pidfile", "pidfile", func(f bool) { cfg.Pidfile = pickS(f, *pidfile, file.Pidfile) })
	merge("log-driver", "log-driver", func(f bool) { cfg.LogDriver = pickS(f, *logDriver, file.LogDriver) })
	merge("cgroup-parent", "cgroup-parent", func(f bool) { cfg.CgroupParent = pickS(f, *cgroupParent, file.CgroupParent) })
	merge("log-opt", "log-opts", func(f bool) { cfg.LogOpts = kv(f, *logOpts, file.LogOpts) })
	merge("add-runtime", "runtimes", func(f bool) {
		cfg.Runtimes = map[string]config.Runtime{}
		if !f {
			cfg.Runtimes = file.Runtimes
		}
		for k, v := range kv(true, *addRuntime, nil) {
			cfg.Runtimes[k] = config.Runtime{Path: v}
		}
	})
	merge("bridge", "bridge", func(f bool) { cfg.Bridge = pickS(f, *bridgeDev, file.Bridge) })
	merge("bip", "bip", func(f bool) { cfg.BIP = pickS(f, *bip, file.BIP) })
	merge("fixed-cidr", "fixed-cidr", func(f bool) { cfg.FixedCIDR = pickS(f, *fixedCIDR, file.FixedCIDR) })
	merge("dns", "dns", func(f bool) { cfg.DNS = pick(f, *dnsServers, file.DNS, nil) })
	merge("insecure-registry", "insecure-registries", func(f bool) { cfg.InsecureRegistries = pick(f, *insecureRegs, file.InsecureRegistries, nil) })
	merge("registry-mirror", "registry-mirrors", func(f bool) {
		cfg.RegistryMirrors = file.RegistryMirrors
		if f && len(*mirrors) > 0 {
			cfg.RegistryMirrors = config.RegistryMirrors{"docker.io": *mirrors}
		}
	})
	merge("ip-forward", "ip-forward", func(f bool) {
		cfg.IPForward = file.IPForward
		if f {
			cfg.IPForward = ipForward
		}
	})
	merge("default-address-pool", "default-address-pools", func(f bool) {
		cfg.DefaultAddressPools = file.DefaultAddressPools
		if f {
			cfg.DefaultAddressPools = nil
			for _, p := range *pools {
				ap, err := parsePool(p)
				if err != nil {
					conflicts = append(conflicts, "default-address-pool "+err.Error())
					continue
				}
				cfg.DefaultAddressPools = append(cfg.DefaultAddressPools, ap)
			}
		}
	})
	if len(conflicts) > 0 {
		return fmt.Errorf("the following directives are specified both as a flag and in the configuration file: %s", strings.Join(conflicts, ", "))
	}
	level, _ := log.ParseLevel(cfg.LogLevel)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(log.WithLogger(context.Background(), logger), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	d, err := daemon.New(ctx, cfg, self)
	if err != nil {
		return err
	}
	return d.Run(ctx)
}

func pick(fromFlag bool, flag, file, def []string) []string {
	switch {
	case fromFlag && len(flag) > 0:
		return flag
	case !fromFlag && len(file) > 0:
		return file
	}
	return def
}

func pickS(fromFlag bool, flag, file string) string {
	if fromFlag || file == "" {
		return flag
	}
	return file
}

func kv(fromFlag bool, flag []string, file map[string]string) map[string]string {
	if !fromFlag {
		return file
	}
	out := map[string]string{}
	for _, s := range flag {
		k, v, _ := strings.Cut(s, "=")
		out[k] = v
	}
	return out
}

func parsePool(s string) (config.AddressPool, error) {
	var ap config.AddressPool
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "base":
			ap.Base = v
		case "size":
			if _, err := fmt.Sscan(v, &ap.Size); err != nil {
				return ap, fmt.Errorf("invalid size %q", v)
			}
		default:
			return ap, fmt.Errorf("unknown key %q", k)
		}
	}
	return ap, nil
}
