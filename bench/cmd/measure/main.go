// Command measure runs issue #3's benchmarks: the same container scenarios
// against berth and, where installed, Docker (dockerd + containerd + runc)
// and Podman, next to the bare `runc run` floor, and prints medians and
// ratios as Markdown tables.
//
// It must run as root. Every daemon it starts gets private state under a
// fresh work directory and, by default, a network namespace of its own; on
// exit (also on error or SIGINT/SIGTERM) it removes the containers it made,
// stops the daemons, unmounts what they left, removes their cgroups and
// deletes the work directory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// options are the command-line settings.
type options struct {
	runs       int
	warmup     int
	containers int
	settle     time.Duration
	berthd     string
	berth      string
	dockerd    string
	docker     string
	podman     string
	runc       string
	rootfs     string
	workdir    string
	engines    string
	netns      bool
	debug      bool

	netSetup    bool // time run --rm --network bench-net (issue #4)
	throughput  bool // published-port throughput (issue #4)
	httpMB      int
	httpFetches int
	httpPort    int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("measure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.runs, "n", 20, "measured runs of each `run --rm` variant (median reported)")
	fs.IntVar(&o.warmup, "warmup", 2, "unmeasured runs of each variant first")
	fs.IntVar(&o.containers, "containers", 50, "containers started with `run -d` in the density scenario")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "pause before memory is read")
	fs.StringVar(&o.berthd, "berthd", "bin/berthd", "berthd binary")
	fs.StringVar(&o.berth, "berth", "bin/berth", "berth CLI binary")
	fs.StringVar(&o.dockerd, "dockerd", "dockerd", "dockerd binary (skipped when not found)")
	fs.StringVar(&o.docker, "docker", "/usr/local/bin/docker", "docker CLI used as Docker's client")
	fs.StringVar(&o.podman, "podman", "podman", "podman binary (skipped when not found)")
	fs.StringVar(&o.runc, "runc", "runc", "runc binary for the floor")
	fs.StringVar(&o.rootfs, "rootfs-script", "scripts/busybox-rootfs.sh", "script writing the busybox rootfs tar to stdout")
	fs.StringVar(&o.workdir, "workdir", "", "parent of the temporary work directory (default $TMPDIR)")
	fs.StringVar(&o.engines, "engines", "berth,docker,podman", "engines to measure, comma-separated")
	fs.BoolVar(&o.netns, "netns", true, "give each daemon a network namespace of its own")
	fs.BoolVar(&o.debug, "debug", false, "start the daemons with debug logging (slower; for profiling)")
	fs.BoolVar(&o.netSetup, "netsetup", true, "also time `run --rm --network "+benchNet+"` (a user-defined bridge) for the network set-up cost; needs -netns")
	fs.BoolVar(&o.throughput, "throughput", true, "measure HTTP throughput through a port published on 127.0.0.1 and to the container directly; needs -netns")
	fs.IntVar(&o.httpMB, "http-mb", 64, "size in MiB of the file busybox httpd serves in the throughput scenario")
	fs.IntVar(&o.httpFetches, "http-fetches", 20, "measured fetches of each path in the throughput scenario (after 1 warm-up)")
	fs.IntVar(&o.httpPort, "http-port", 18080, "host port (on 127.0.0.1 in the daemon's namespace) the web server is published on")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.runs < 1 || o.containers < 1 || o.warmup < 0 {
		return nil, errors.New("-n and -containers must be at least 1, -warmup at least 0")
	}
	if o.httpMB < 1 || o.httpFetches < 1 || o.httpPort < 1 || o.httpPort > 65535 {
		return nil, errors.New("-http-mb and -http-fetches must be at least 1, -http-port a port number")
	}
	for _, p := range []*string{&o.berthd, &o.berth, &o.rootfs} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	return o, nil
}

// lookPath resolves name on $PATH, returning "" when it is absent.
func lookPath(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return ""
	}
	return p
}

func run(ctx context.Context, stop func(), args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	want := map[string]bool{}
	for _, n := range strings.Split(o.engines, ",") {
		want[strings.TrimSpace(n)] = true
	}

	work, err := os.MkdirTemp(o.workdir, "berth-bench-")
	if err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	tag := filepath.Base(work)
	var cleanups []func() []error
	defer func() {
		// After the first signal, a second one ends the bench at once.
		stop()
		for i := len(cleanups) - 1; i >= 0; i-- {
			for _, e := range cleanups[i]() {
				fmt.Fprintln(stderr, "bench: cleanup:", e)
			}
		}
	}()
	var cgroupParents []string
	cleanups = append(cleanups, func() []error {
		errs := removeCgroups(cgroupParents)
		return append(errs, removeWork(work)...)
	})

	tarPath := filepath.Join(work, "busybox.tar")
	if err := writeRootfs(ctx, o.rootfs, tarPath); err != nil {
		return err
	}

	rp := &report{runs: o.runs, containers: o.containers, results: map[string]*engineResult{}}
	var engines []*engine
	add := func(e *engine, err error) error {
		if e != nil {
			cleanups = append(cleanups, e.teardown)
		}
		if err != nil {
			return err
		}
		engines = append(engines, e)
		rp.engines = append(rp.engines, e.name)
		rp.results[e.name] = &engineResult{}
		return nil
	}
	if want["berth"] {
		logf("starting berthd")
		dir := filepath.Join(work, "berth")
		cgroupParents = append(cgroupParents, tag+"-berth")
		if err := add(newBerth(ctx, o, mkdir(dir), tag+"-berth")); err != nil {
			return err
		}
	}
	if want["docker"] {
		o.dockerd = lookPath(o.dockerd)
		if o.dockerd == "" || lookPath(o.docker) == "" {
			logf("dockerd or the docker CLI is missing: skipping Docker")
		} else {
			logf("starting dockerd")
			dir := filepath.Join(work, "docker")
			cgroupParents = append(cgroupParents, tag+"-docker")
			if err := add(newDocker(ctx, o, mkdir(dir), tag+"-docker")); err != nil {
				return err
			}
		}
	}
	if want["podman"] {
		if o.podman = lookPath(o.podman); o.podman == "" {
			logf("podman is not installed: skipping Podman")
		} else if err := add(newPodman(o, mkdir(filepath.Join(work, "podman")))); err != nil {
			return err
		}
	}

	if err := writeFacts(ctx, stdout, o, engines); err != nil {
		return err
	}

	for _, e := range engines {
		logf("%s: importing busybox", e.name)
		if err := importImage(ctx, e, tarPath); err != nil {
			return err
		}
	}
	bundle, stateRoot, err := makeBundle(ctx, o.runc, filepath.Join(work, "runc"), tarPath)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, (&engine{name: "runc", dir: filepath.Join(work, "runc"), runcRoots: []string{stateRoot}}).teardown)

	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	ps, err := processes()
	if err != nil {
		return err
	}
	for _, e := range engines {
		if e.daemons == nil {
			continue
		}
		r := rp.results[e.name]
		d := e.daemons(ps)
		r.hasDaemon, r.daemonNames = true, names(d)
		if r.idleRSS, err = rss(pids(d)); err != nil {
			return err
		}
		if r.idlePSS, err = pss(pids(d)); err != nil {
			return err
		}
	}

	for _, e := range engines {
		logf("%s: %d × run -d busybox sleep 3600", e.name, o.containers)
		if err := density(ctx, e, rp.results[e.name], o); err != nil {
			return err
		}
	}

	var sb *specBundle
	if b := rp.results["berth"]; b != nil && len(b.spec) > 0 {
		cgroupParents = append(cgroupParents, tag+"-runc")
		sb, err = makeSpecBundle(ctx, filepath.Join(work, "runc", "berth-spec"), tarPath, b.spec, b.specFiles, tag+"-runc")
		if err != nil {
			logf("no runc run with berth's spec: %v", err)
			sb = nil
		}
	}
	netEngines := networkEngines(engines)
	if (o.netSetup || o.throughput) && len(netEngines) < len(engines) {
		logf("network scenarios only run on daemons in a network namespace of the bench's own (-netns): skipped for %s",
			strings.Join(missingNames(engines, netEngines), ", "))
	}
	var netSetup []*engine
	if o.netSetup {
		for _, e := range netEngines {
			logf("%s: network create %s", e.name, benchNet)
			if err := createBenchNet(ctx, e); err != nil {
				return err
			}
			netSetup = append(netSetup, e)
			rp.results[e.name].hasNet = true
		}
	}
	if err := startLatency(ctx, engines, netSetup, rp, o, bundle, stateRoot, sb, logf); err != nil {
		return err
	}
	if o.throughput && len(netEngines) > 0 {
		rp.httpMB, rp.httpFetches, rp.httpPort = o.httpMB, o.httpFetches, o.httpPort
		if err := throughput(ctx, netEngines, rp, o, logf); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout)
	rp.write(stdout)
	return nil
}

// missingNames returns the names of the engines in all but not in some.
func missingNames(all, some []*engine) []string {
	in := map[*engine]bool{}
	for _, e := range some {
		in[e] = true
	}
	var out []string
	for _, e := range all {
		if !in[e] {
			out = append(out, e.name)
		}
	}
	return out
}

// mkdir creates dir (ignoring failure, which the daemon reports better).
func mkdir(dir string) string {
	_ = os.MkdirAll(dir, 0o755)
	return dir
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// writeRootfs runs the rootfs script into path.
func writeRootfs(ctx context.Context, script, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, script)
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", script, err)
	}
	return f.Close()
}

// importImage imports the rootfs tar as busybox:latest.
func importImage(ctx context.Context, e *engine, tarPath string) error {
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, err = e.runIn(ctx, f, "import", "-", "busybox:latest")
	return err
}

// makeBundle builds an OCI bundle for `runc run` from the rootfs tar: the
// spec from `runc spec`, running `true` without a terminal. It returns the
// bundle and a private runc state directory.
func makeBundle(ctx context.Context, runc, dir, tarPath string) (bundle, stateRoot string, err error) {
	bundle, stateRoot = filepath.Join(dir, "bundle"), filepath.Join(dir, "state")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return "", "", err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xf", tarPath, "-C", rootfs).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("unpack rootfs: %w: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("runc spec: %w: %s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", "", err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", "", fmt.Errorf("runc spec output: %w", err)
	}
	p, ok := spec["process"].(map[string]any)
	if !ok {
		return "", "", errors.New("runc spec output has no process")
	}
	p["terminal"] = false
	p["args"] = []string{"true"}
	if b, err = json.Marshal(spec); err != nil {
		return "", "", err
	}
	return bundle, stateRoot, os.WriteFile(cfgPath, b, 0o644)
}

// specBundle is an OCI bundle that runs `true` under a spec captured from a
// berth container: the same seccomp profile, mounts, masks and cgroup
// settings, on a private copy of the rootfs.
type specBundle struct {
	dir          string
	spec         map[string]any
	cgroupParent string
}

// bindSources reads the files that the OCI spec raw bind-mounts from below
// engineDir (hosts, resolv.conf), keyed by their path; others are left out.
func bindSources(raw []byte, engineDir string) map[string][]byte {
	var spec struct {
		Mounts []struct{ Source string }
	}
	if json.Unmarshal(raw, &spec) != nil {
		return nil
	}
	files := map[string][]byte{}
	for _, m := range spec.Mounts {
		if strings.HasPrefix(m.Source, engineDir+"/") {
			if b, err := os.ReadFile(m.Source); err == nil {
				files[m.Source] = b
			}
		}
	}
	return files
}

// makeSpecBundle builds a specBundle in dir from raw. The files that the
// spec bind-mounts (as read by bindSources, because the container they
// belong to is gone by now) are written into the bundle, and namespaces
// the spec joins by path are made afresh.
func makeSpecBundle(ctx context.Context, dir, tarPath string, raw []byte, files map[string][]byte, cgroupParent string) (*specBundle, error) {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "tar", "-xf", tarPath, "-C", rootfs).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("unpack rootfs: %w: %s", err, out)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("captured spec: %w", err)
	}
	p, ok := spec["process"].(map[string]any)
	if !ok {
		return nil, errors.New("captured spec has no process")
	}
	p["args"], p["terminal"] = []string{"true"}, false
	spec["root"] = map[string]any{"path": rootfs}
	delete(spec, "hooks")
	// Namespaces joined by path (the container's persistent network
	// namespace) went with the container: runc makes fresh ones instead,
	// as for `--network none`.
	if l, ok := spec["linux"].(map[string]any); ok {
		nss, _ := l["namespaces"].([]any)
		for _, ns := range nss {
			if m, ok := ns.(map[string]any); ok {
				delete(m, "path")
			}
		}
	}
	mounts, _ := spec["mounts"].([]any)
	for i, m := range mounts {
		mm, ok := m.(map[string]any)
		src, _ := mm["source"].(string)
		b, found := files[src]
		if !ok || !found {
			continue
		}
		dst := filepath.Join(dir, fmt.Sprintf("mount-%d-%s", i, filepath.Base(src)))
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return nil, err
		}
		mm["source"] = dst
	}
	return &specBundle{dir: dir, spec: spec, cgroupParent: cgroupParent}, nil
}

// prepare writes the bundle's config.json for the container id, with a
// cgroup of its own.
func (b *specBundle) prepare(id string) error {
	if l, ok := b.spec["linux"].(map[string]any); ok {
		l["cgroupsPath"] = "/" + b.cgroupParent + "/" + id
	}
	raw, err := json.Marshal(b.spec)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.dir, "config.json"), raw, 0o644)
}

// density starts o.containers sleeping containers one after another,
// reads the memory of the shims and daemons, and removes them again.
func density(ctx context.Context, e *engine, r *engineResult, o *options) error {
	var ids []string
	start := time.Now()
	for range o.containers {
		id, _, err := e.run(ctx, "run", "-d", "busybox", "sleep", "3600")
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	r.startAll = time.Since(start)
	r.started = len(ids)
	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	if e.specOf != nil {
		// Diagnostic only: without it the runc-with-berth's-spec row is left out.
		if spec, err := os.ReadFile(e.specOf(ids[0])); err == nil {
			r.spec, r.specFiles = spec, bindSources(spec, e.dir)
		}
	}
	ps, err := processes()
	if err != nil {
		return err
	}
	shims := e.shims(ps)
	r.shimCount, r.shimName = len(shims), names(shims)
	if r.shimPSS, err = pss(pids(shims)); err != nil {
		return err
	}
	if e.daemons != nil {
		d := e.daemons(ps)
		if r.loadedRSS, err = rss(pids(d)); err != nil {
			return err
		}
		if r.loadedPSS, err = pss(pids(d)); err != nil {
			return err
		}
	}
	_, r.removeAll, err = e.run(ctx, append([]string{"rm", "-f"}, ids...)...)
	return err
}

// variant is one `run --rm` flavour timed in the latency scenario.
type variant struct {
	label string
	dst   *[]time.Duration
	once  func(ctx context.Context, i int) (time.Duration, error)
}

// startLatency times the `run --rm` variants of every engine (with
// `--network bench-net` for those in netEngines) and the runc floor,
// interleaved round by round so drift in the machine's load spreads evenly
// over them.
func startLatency(ctx context.Context, engines, netEngines []*engine, rp *report, o *options, bundle, stateRoot string, sb *specBundle, logf func(string, ...any)) error {
	withNet := map[*engine]bool{}
	for _, e := range netEngines {
		withNet[e] = true
	}
	var vs []variant
	for _, e := range engines {
		r := rp.results[e.name]
		vs = append(vs,
			variant{e.name + " run --rm", &r.runDefault, func(ctx context.Context, _ int) (time.Duration, error) {
				_, d, err := e.run(ctx, "run", "--rm", "busybox", "true")
				return d, err
			}},
			variant{e.name + " run --rm --network none", &r.runNone, func(ctx context.Context, _ int) (time.Duration, error) {
				_, d, err := e.run(ctx, "run", "--rm", "--network", "none", "busybox", "true")
				return d, err
			}})
		if withNet[e] {
			// Right after --network none, so each round's pair shares the load.
			vs = append(vs, variant{e.name + " run --rm --network " + benchNet, &r.runNet,
				func(ctx context.Context, _ int) (time.Duration, error) {
					_, d, err := e.run(ctx, "run", "--rm", "--network", benchNet, "busybox", "true")
					return d, err
				}})
		}
	}
	vs = append(vs, variant{"runc run", &rp.runcFloor, func(ctx context.Context, i int) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, o.runc, "--root", stateRoot, "run", "--bundle", bundle, fmt.Sprintf("bench-%d", i))
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return d, fmt.Errorf("runc run: %w: %s", err, out)
		}
		return d, nil
	}})
	if sb != nil {
		vs = append(vs, variant{"runc run, berth's spec", &rp.runcSpec, func(ctx context.Context, i int) (time.Duration, error) {
			id := fmt.Sprintf("spec-%d", i)
			if err := sb.prepare(id); err != nil {
				return 0, err
			}
			cmd := exec.CommandContext(ctx, o.runc, "--root", stateRoot, "run", "--bundle", sb.dir, id)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			d := time.Since(start)
			if err != nil {
				return d, fmt.Errorf("runc run: %w: %s", err, out)
			}
			return d, nil
		}})
	}
	logf("run --rm latency: %d warm-up + %d measured rounds of %d variants", o.warmup, o.runs, len(vs))
	for round := range o.warmup + o.runs {
		for _, v := range vs {
			d, err := v.once(ctx, round)
			if err != nil {
				return fmt.Errorf("%s: %w", v.label, err)
			}
			if round >= o.warmup {
				*v.dst = append(*v.dst, d)
			}
		}
	}
	return nil
}

// writeFacts prints the machine and the software versions.
func writeFacts(ctx context.Context, w io.Writer, o *options, engines []*engine) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	version := func(argv ...string) string {
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
		if err != nil {
			return "?"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	cpu, mem := "?", "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		if kb, err := memField(f, "MemTotal:"); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
		f.Close()
	}
	fmt.Fprintf(w, "## Machine\n\n")
	fmt.Fprintf(w, "- CPUs: %d × %s; memory %s\n", runtime.NumCPU(), cpu, mem)
	fmt.Fprintf(w, "- kernel: %s %s\n", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]))
	fmt.Fprintf(w, "- runc: %s\n", version(o.runc, "--version"))
	for _, e := range engines {
		switch e.name {
		case "berth":
			fmt.Fprintf(w, "- berthd: %s\n", version(o.berthd, "--version"))
		case "docker":
			fmt.Fprintf(w, "- dockerd: %s; containerd: %s; client: %s\n",
				version(o.dockerd, "--version"), version("containerd", "--version"), version(o.docker, "--version"))
		case "podman":
			fmt.Fprintf(w, "- podman: %s\n", version(o.podman, "--version"))
		}
	}
	fmt.Fprintf(w, "- settings: n=%d (after %d warm-up), %d containers, daemons in own netns: %v\n", o.runs, o.warmup, o.containers, o.netns)
	if o.throughput && o.netns {
		fmt.Fprintf(w, "- throughput: %d MiB file from busybox httpd, %d fetches per path (after 1 warm-up), published on 127.0.0.1:%d\n", o.httpMB, o.httpFetches, o.httpPort)
	}
	return nil
}

// removeWork unmounts everything below work, deepest first, and deletes it.
func removeWork(work string) []error {
	var errs []error
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []error{err}
	}
	mps, err := mountsUnder(f, work)
	f.Close()
	if err != nil {
		errs = append(errs, err)
	}
	for _, mp := range mps {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	if err := os.RemoveAll(work); err != nil {
		errs = append(errs, fmt.Errorf("remove work dir: %w", err))
	}
	return errs
}

// removeCgroups removes the (by now empty) cgroup directories named parent
// in every mounted hierarchy, children first. It only ever calls rmdir.
func removeCgroups(parents []string) []error {
	const root = "/sys/fs/cgroup"
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var errs []error
	for _, parent := range parents {
		cands := []string{filepath.Join(root, parent)}
		for _, e := range ents {
			if e.IsDir() {
				cands = append(cands, filepath.Join(root, e.Name(), parent))
			}
		}
		for _, c := range cands {
			var dirs []string
			_ = filepath.WalkDir(c, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
			for _, d := range dirs {
				if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
					errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				}
			}
		}
	}
	return errs
}
