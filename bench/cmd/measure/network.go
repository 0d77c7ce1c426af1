package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// benchNet is the user-defined network the bench creates in every engine.
const benchNet = "bench-net"

// httpdName is the name of the container serving the throughput scenario.
const httpdName = "bench-httpd"

// nsDialer dials TCP connections from inside one network namespace. A
// goroutine locked to an OS thread that entered the namespace makes every
// socket; a socket stays in the namespace it was made in, so the connections
// it returns can be used from any goroutine. That thread never leaves the
// namespace: its goroutine ends without unlocking it, and the runtime then
// ends the thread, so nothing else of the bench ever runs there.
type nsDialer struct {
	reqs chan dialReq
}

type dialReq struct {
	ctx   context.Context
	addr  string
	reply chan dialResult
}

type dialResult struct {
	conn net.Conn
	err  error
}

// newNSDialer starts a dialer in the network namespace named by nsPath
// (such as /proc/PID/ns/net). It checks that its thread really is in that
// namespace before it dials anything. close stops it.
func newNSDialer(nsPath string) (*nsDialer, error) {
	var want unix.Stat_t
	if err := unix.Stat(nsPath, &want); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	f, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	d := &nsDialer{reqs: make(chan dialReq)}
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see nsDialer
		err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err == nil {
			var got unix.Stat_t
			if err = unix.Stat("/proc/thread-self/ns/net", &got); err == nil && (got.Dev != want.Dev || got.Ino != want.Ino) {
				err = errors.New("thread is not in the namespace after setns")
			}
		}
		ready <- err
		if err != nil {
			return
		}
		for req := range d.reqs {
			var nd net.Dialer
			c, err := nd.DialContext(req.ctx, "tcp", req.addr)
			req.reply <- dialResult{c, err}
		}
	}()
	if err := <-ready; err != nil {
		return nil, fmt.Errorf("enter network namespace %s: %w", nsPath, err)
	}
	return d, nil
}

// dial connects to addr (an IP literal and port, so that no resolver
// goroutine is involved) from the dialer's namespace.
func (d *nsDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, fmt.Errorf("nsDialer: network %q not supported", network)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || net.ParseIP(host) == nil {
		return nil, fmt.Errorf("nsDialer: %q is not an IP address and port", addr)
	}
	reply := make(chan dialResult, 1)
	select {
	case d.reqs <- dialReq{ctx, addr, reply}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	r := <-reply
	return r.conn, r.err
}

// close stops the dialer; its thread ends.
func (d *nsDialer) close() { close(d.reqs) }

// client returns an HTTP client whose connections come from the namespace,
// one fresh connection per request.
func (d *nsDialer) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:        d.dial,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}}
}

// fetch GETs url with c, reads the body to its end and returns its length
// and the time from the request to the last byte. A status other than 200
// or a body shorter than want bytes (when want > 0) is an error.
func fetch(ctx context.Context, c *http.Client, url string, want int64, buf []byte) (int64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, 0, fmt.Errorf("GET %s: after %d bytes: %w", url, n, err)
		}
	}
	d := time.Since(start)
	if want > 0 && n != want {
		return n, d, fmt.Errorf("GET %s: %d bytes, want %d", url, n, want)
	}
	return n, d, nil
}

// mbps is n bytes over d in MB/s (10⁶ bytes per second).
func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e6 / d.Seconds()
}

// networkEngines returns the engines the network scenarios can run on: those
// with a daemon in a network namespace the bench made.
func networkEngines(engines []*engine) []*engine {
	var out []*engine
	for _, e := range engines {
		if e.netnsPID > 0 {
			out = append(out, e)
		}
	}
	return out
}

// createBenchNet creates the user-defined bridge network benchNet in e.
// Its bridge and rules live in the daemon's namespace and go with it.
func createBenchNet(ctx context.Context, e *engine) error {
	_, _, err := e.run(ctx, "network", "create", benchNet)
	return err
}

// httpdScript makes a file of mb MiB in the web root and then serves it
// with busybox httpd on port 80, in the foreground.
func httpdScript(mb int) string {
	return fmt.Sprintf("dd if=/dev/zero of=/var/www/big bs=1048576 count=%d 2>/dev/null && exec httpd -f -p 80 -h /var/www", mb)
}

// httpTarget is one engine's web server: its published and direct URLs.
type httpTarget struct {
	e         *engine
	r         *engineResult
	dialer    *nsDialer
	client    *http.Client
	published string
	direct    string
}

// containerIP returns the IPv4 address of a container on its (only) network.
func containerIP(ctx context.Context, e *engine, name string) (string, error) {
	out, _, err := e.run(ctx, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name)
	if err != nil {
		return "", err
	}
	for _, f := range strings.Fields(out) {
		if ip := net.ParseIP(f); ip != nil && ip.To4() != nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: container %s has no IPv4 address (%q)", e.name, name, out)
}

// startHTTPD starts the web server container of e, publishing port 80 on
// 127.0.0.1:port, and waits until its file is served in full.
func startHTTPD(ctx context.Context, e *engine, r *engineResult, o *options, buf []byte) (*httpTarget, error) {
	if _, _, err := e.run(ctx, "run", "-d", "--name", httpdName, "-p", fmt.Sprintf("127.0.0.1:%d:80", o.httpPort),
		"busybox", "sh", "-c", httpdScript(o.httpMB)); err != nil {
		return nil, err
	}
	ip, err := containerIP(ctx, e, httpdName)
	if err != nil {
		return nil, err
	}
	d, err := newNSDialer(fmt.Sprintf("/proc/%d/ns/net", e.netnsPID))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.name, err)
	}
	t := &httpTarget{e: e, r: r, dialer: d, client: d.client(),
		published: "http://127.0.0.1:" + strconv.Itoa(o.httpPort) + "/big",
		direct:    "http://" + net.JoinHostPort(ip, "80") + "/big"}
	want := int64(o.httpMB) << 20
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, err := fetch(ctx, t.client, t.direct, want, buf)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			d.close()
			return nil, fmt.Errorf("%s: web server not ready after 60s: %w", e.name, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			d.close()
			return nil, err
		}
	}
	return t, nil
}

// throughput serves an o.httpMB MiB file from busybox httpd in one container
// per engine and fetches it o.httpFetches times (after one warm-up) through
// the port published on 127.0.0.1 and straight from the container's address,
// both from the daemon's network namespace. The fetches are interleaved
// round by round over every engine and path. The containers are removed
// afterwards; on failure the engines' teardown removes them.
func throughput(ctx context.Context, engines []*engine, rp *report, o *options, logf func(string, ...any)) error {
	buf := make([]byte, 256<<10)
	var targets []*httpTarget
	defer func() {
		for _, t := range targets {
			t.dialer.close()
			if _, _, err := t.e.run(context.WithoutCancel(ctx), "rm", "-f", httpdName); err != nil {
				logf("%v", err)
			}
		}
	}()
	for _, e := range engines {
		logf("%s: busybox httpd serving %d MiB on 127.0.0.1:%d", e.name, o.httpMB, o.httpPort)
		t, err := startHTTPD(ctx, e, rp.results[e.name], o, buf)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		if ps, err := processes(); err == nil {
			t.r.httpProxies = countProxies(ps, e, o.httpPort)
		}
	}
	want := int64(o.httpMB) << 20
	logf("throughput: 1 warm-up + %d measured rounds of %d fetches", o.httpFetches, 2*len(targets))
	for round := range 1 + o.httpFetches {
		for _, t := range targets {
			for _, p := range []struct {
				url string
				dst *[]float64
			}{{t.published, &t.r.httpPublished}, {t.direct, &t.r.httpDirect}} {
				n, d, err := fetch(ctx, t.client, p.url, want, buf)
				if err != nil {
					return fmt.Errorf("%s: %w", t.e.name, err)
				}
				if round > 0 {
					*p.dst = append(*p.dst, mbps(n, d))
				}
			}
		}
	}
	return nil
}

// countProxies counts the userland proxy processes (docker-proxy) that
// forward port of e, to show which path a published port takes.
func countProxies(ps []proc, e *engine, port int) int {
	n := 0
	for _, p := range ps {
		if p.comm != "docker-proxy" || !descendsFrom(ps, p, e.netnsPID) {
			continue
		}
		for i, a := range p.argv {
			if a == "-host-port" && i+1 < len(p.argv) && p.argv[i+1] == strconv.Itoa(port) {
				n++
			}
		}
	}
	return n
}

// descendsFrom reports whether p is pid or one of its descendants in ps.
func descendsFrom(ps []proc, p proc, pid int) bool {
	parent := map[int]int{}
	for _, q := range ps {
		parent[q.pid] = q.ppid
	}
	for cur, hops := p.pid, 0; cur > 1 && hops < 64; cur, hops = parent[cur], hops+1 {
		if cur == pid {
			return true
		}
	}
	return false
}
