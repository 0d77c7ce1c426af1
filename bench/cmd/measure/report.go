package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// median returns the median of ds (the mean of the middle two for an even
// count) and false when ds is empty. ds is not modified.
func median(ds []time.Duration) (time.Duration, bool) {
	if len(ds) == 0 {
		return 0, false
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// spread returns the smallest and largest of ds; ds must not be empty.
func spread(ds []time.Duration) (lo, hi time.Duration) {
	lo, hi = ds[0], ds[0]
	for _, d := range ds[1:] {
		lo, hi = min(lo, d), max(hi, d)
	}
	return lo, hi
}

// engineResult holds what was measured for one engine. Memory is in KiB; a
// zero count means the scenario did not run.
type engineResult struct {
	runDefault []time.Duration // run --rm busybox true
	runNone    []time.Duration // run --rm --network none busybox true
	runNet     []time.Duration // run --rm --network bench-net busybox true
	hasNet     bool            // bench-net was created (the set-up scenario ran)

	httpPublished []float64 // MB/s through the port published on 127.0.0.1
	httpDirect    []float64 // MB/s from the container's own address
	httpProxies   int       // userland proxy processes seen for the published port

	started   int           // containers started with run -d
	startAll  time.Duration // wall time of all run -d
	removeAll time.Duration // wall time of one rm -f of them all

	hasDaemon   bool
	idleRSS     int64 // daemon processes, before any container
	idlePSS     int64
	loadedRSS   int64 // daemon processes, with the containers running
	loadedPSS   int64
	shimPSS     int64 // all shim (or conmon) processes, with the containers running
	shimCount   int
	daemonNames string
	shimName    string

	spec      []byte            // the OCI spec of one of the running containers, if captured
	specFiles map[string][]byte // the files it bind-mounts from the engine's directory
}

// perContainerPSS returns the memory added per running container: the
// shims' PSS plus the daemons' PSS growth, divided by the container count.
func (r *engineResult) perContainerPSS() (float64, bool) {
	if r.started == 0 {
		return 0, false
	}
	return float64(r.shimPSS+r.loadedPSS-r.idlePSS) / float64(r.started), true
}

// report is everything one measuring run produced.
type report struct {
	runs       int
	containers int
	engines    []string // in column order
	results    map[string]*engineResult
	runcFloor  []time.Duration
	// runcSpec is `runc run` with the OCI spec berth generated, when one
	// could be captured: the runtime's own share of berth's start time.
	runcSpec []time.Duration

	// The throughput scenario's settings; httpFetches is 0 when it did
	// not run.
	httpMB, httpFetches, httpPort int
}

// netCost returns the network set-up cost of r in milliseconds: the
// difference of the medians of `--network bench-net` and `--network none`,
// and the median of the round-by-round differences (each round runs the
// two back to back). ok is false when either series is missing.
func (r *engineResult) netCost() (diff, paired float64, ok bool) {
	if len(r.runNet) == 0 || len(r.runNone) == 0 {
		return 0, 0, false
	}
	var pairs []time.Duration
	for i := range min(len(r.runNet), len(r.runNone)) {
		pairs = append(pairs, r.runNet[i]-r.runNone[i])
	}
	p, _ := median(pairs)
	return medianMS(r.runNet) - medianMS(r.runNone), ms(p), true
}

// medianF returns the median of xs (0 when empty); xs is not modified.
func medianF(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// mbCell formats the median and range of xs in MB/s.
func mbCell(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", medianF(xs), lo, hi)
}

// msCell formats the median and range of ds in milliseconds.
func msCell(ds []time.Duration) string {
	m, ok := median(ds)
	if !ok {
		return "–"
	}
	lo, hi := spread(ds)
	return fmt.Sprintf("%.1f (%.1f–%.1f)", ms(m), ms(lo), ms(hi))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ratioAtLeast formats a/b and whether it meets the goal a/b ≥ goal.
func ratioAtLeast(a, b, goal float64) (string, string) {
	if a <= 0 || b <= 0 {
		return "–", "n/a"
	}
	r := a / b
	met := "no"
	if r >= goal {
		met = "yes"
	}
	return fmt.Sprintf("%.2f", r), met
}

// ratio formats a/b and whether it meets the goal a/b ≤ goal.
func ratio(a, b, goal float64) (string, string) {
	if a <= 0 || b <= 0 {
		return "–", "n/a"
	}
	r := a / b
	met := "no"
	if r <= goal {
		met = "yes"
	}
	return fmt.Sprintf("%.2f", r), met
}

func medianMS(ds []time.Duration) float64 {
	m, ok := median(ds)
	if !ok {
		return 0
	}
	return ms(m)
}

// write prints the figures and the targets as Markdown tables.
func (rp *report) write(w io.Writer) {
	cols := append(append([]string(nil), rp.engines...), "runc floor")
	row := func(name string, cell func(r *engineResult) string, floor string) {
		cells := []string{name}
		for _, e := range rp.engines {
			cells = append(cells, cell(rp.results[e]))
		}
		cells = append(cells, floor)
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintf(w, "| measurement | %s |\n", strings.Join(cols, " | "))
	fmt.Fprintf(w, "|---%s|\n", strings.Repeat("|---", len(cols)))
	row(fmt.Sprintf("`run --rm busybox true`, median ms (min–max), n=%d", rp.runs),
		func(r *engineResult) string { return msCell(r.runDefault) }, "–")
	row(fmt.Sprintf("`run --rm --network none busybox true`, median ms, n=%d", rp.runs),
		func(r *engineResult) string { return msCell(r.runNone) }, msCell(rp.runcFloor))
	if len(rp.runcSpec) > 0 {
		row("… `runc run` with berth's own spec (seccomp, mounts, cgroups), median ms",
			func(*engineResult) string { return "–" }, msCell(rp.runcSpec))
	}
	if rp.anyNet() {
		row(fmt.Sprintf("`run --rm --network %s busybox true` (user-defined bridge), median ms", benchNet),
			func(r *engineResult) string { return msCell(r.runNet) }, "–")
		row(fmt.Sprintf("… network set-up: median(`%s`) − median(`none`), ms (median of per-round differences)", benchNet),
			func(r *engineResult) string {
				d, p, ok := r.netCost()
				if !ok {
					return "–"
				}
				return fmt.Sprintf("%.1f (%.1f)", d, p)
			}, "–")
	}
	if rp.httpFetches > 0 {
		row(fmt.Sprintf("HTTP GET of %d MiB through `-p 127.0.0.1:%d:80`, MB/s median (min–max), n=%d", rp.httpMB, rp.httpPort, rp.httpFetches),
			func(r *engineResult) string {
				c := mbCell(r.httpPublished)
				if r.httpProxies > 0 {
					c += " via docker-proxy"
				}
				return c
			}, "–")
		row(fmt.Sprintf("HTTP GET of %d MiB from the container's own IP:80 (direct), MB/s, n=%d", rp.httpMB, rp.httpFetches),
			func(r *engineResult) string { return mbCell(r.httpDirect) }, "–")
	}
	row(fmt.Sprintf("%d × `run -d busybox sleep 3600`, total s", rp.containers),
		func(r *engineResult) string {
			if r.started == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f (%.0f ms each)", r.startAll.Seconds(), ms(r.startAll)/float64(r.started))
		}, "–")
	row(fmt.Sprintf("`rm -f` of the %d, s", rp.containers),
		func(r *engineResult) string {
			if r.started == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", r.removeAll.Seconds())
		}, "–")
	row("memory added per running container, PSS KiB",
		func(r *engineResult) string {
			v, ok := r.perContainerPSS()
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%.0f", v)
		}, "–")
	row("… of which shim PSS per container, KiB",
		func(r *engineResult) string {
			if r.started == 0 {
				return "–"
			}
			return fmt.Sprintf("%.0f (%d × %s)", float64(r.shimPSS)/float64(r.started), r.shimCount, r.shimName)
		}, "–")
	row("… of which daemon PSS growth per container, KiB",
		func(r *engineResult) string {
			if r.started == 0 || !r.hasDaemon {
				return "–"
			}
			return fmt.Sprintf("%.0f", float64(r.loadedPSS-r.idlePSS)/float64(r.started))
		}, "–")
	row("daemon RSS idle, MiB",
		func(r *engineResult) string {
			if !r.hasDaemon {
				return "–"
			}
			return fmt.Sprintf("%.1f (%s)", float64(r.idleRSS)/1024, r.daemonNames)
		}, "–")
	row(fmt.Sprintf("daemon RSS with %d containers, MiB", rp.containers),
		func(r *engineResult) string {
			if !r.hasDaemon || r.started == 0 {
				return "–"
			}
			return fmt.Sprintf("%.1f", float64(r.loadedRSS)/1024)
		}, "–")

	b, d := rp.results["berth"], rp.results["docker"]
	if b == nil {
		return
	}
	if d == nil {
		d = &engineResult{}
	}
	fmt.Fprintf(w, "\n| target (issue #3) | measured | goal | met |\n|---|---|---|---|\n")
	target := func(name string, a, base, goal float64) {
		r, met := ratio(a, base, goal)
		fmt.Fprintf(w, "| %s | %s | ≤ %.2f | %s |\n", name, r, goal, met)
	}
	target("`run --rm`: berth / docker", medianMS(b.runDefault), medianMS(d.runDefault), 0.4)
	target("`run --rm --network none`: berth / docker", medianMS(b.runNone), medianMS(d.runNone), 0.4)
	target("`run --rm --network none`: berth / runc floor", medianMS(b.runNone), medianMS(rp.runcFloor), 2)
	if len(rp.runcSpec) > 0 {
		r, _ := ratio(medianMS(b.runNone), medianMS(rp.runcSpec), 0)
		fmt.Fprintf(w, "| (diagnostic) `run --rm --network none`: berth / runc with berth's spec | %s | – | – |\n", r)
	}
	target(fmt.Sprintf("%d × `run -d`: berth / docker", rp.containers), b.startAll.Seconds(), d.startAll.Seconds(), 0.3)
	bp, _ := b.perContainerPSS()
	dp, _ := d.perContainerPSS()
	target("PSS per container: berth / docker", bp, dp, 0.4)
	target("daemon RSS idle: berthd / (dockerd + containerd)", float64(b.idleRSS), float64(d.idleRSS), 0.25)
	target(fmt.Sprintf("daemon RSS with %d: berthd / (dockerd + containerd)", rp.containers), float64(b.loadedRSS), float64(d.loadedRSS), 0.25)

	if !b.hasNet && len(b.httpPublished) == 0 {
		return
	}
	fmt.Fprintf(w, "\n| target (issue #4) | measured | goal | met |\n|---|---|---|---|\n")
	if diff, paired, ok := b.netCost(); ok {
		met := "no"
		if diff <= 15 {
			met = "yes"
		}
		fmt.Fprintf(w, "| network set-up: berth median(`--network %s`) − median(`--network none`) | %.1f ms (per-round: %.1f ms) | ≤ 15 ms | %s |\n",
			benchNet, diff, paired, met)
	}
	if len(b.httpPublished) > 0 {
		r, met := ratioAtLeast(medianF(b.httpPublished), medianF(d.httpPublished), 2)
		fmt.Fprintf(w, "| published-port throughput: berth / docker (userland proxy) | %s | ≥ 2.00 | %s |\n", r, met)
		r, met = ratioAtLeast(medianF(b.httpPublished), medianF(b.httpDirect), 0.9)
		fmt.Fprintf(w, "| published-port throughput: berth published / berth direct | %s | ≥ 0.90 | %s |\n", r, met)
	}
}

// anyNet reports whether any engine ran the network set-up scenario.
func (rp *report) anyNet() bool {
	for _, r := range rp.results {
		if r.hasNet {
			return true
		}
	}
	return false
}
