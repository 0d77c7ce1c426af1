package testutil

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// Daemon is a real berthd started for tests on its own socket, data root
// and exec root.
type Daemon struct {
	// Host is the daemon's -H value ("unix:///…").
	Host string
	// Socket is the socket path.
	Socket string
	// DataRoot and ExecRoot are the daemon's directories.
	DataRoot string
	ExecRoot string
	// Bin is the berthd binary.
	Bin string
	// Args are extra daemon flags.
	Args []string

	base string
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate testutil source")
	}
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the path of a berth binary (berthd or berth): $BERTH_BIN_DIR
// if set, else bin/ in the repository, built with `go build` when missing.
func Binary(name string) (string, error) {
	if dir := os.Getenv("BERTH_BIN_DIR"); dir != "" {
		return filepath.Join(dir, name), nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	cmd := exec.Command("go", "build", "-o", p, "./cmd/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v: %s", name, err, out)
	}
	return p, nil
}

// StartDaemon starts berthd with fresh directories under /tmp (short paths:
// unix socket names are limited to 108 bytes) and waits until it answers.
// Call Cleanup when done.
func StartDaemon(extraArgs ...string) (*Daemon, error) {
	d, err := NewDaemon(extraArgs...)
	if err != nil {
		return nil, err
	}
	if err := d.Start(); err != nil {
		d.Cleanup()
		return nil, err
	}
	return d, nil
}

// NewDaemon prepares a daemon's directories without starting it, so a test
// can shape them first (e.g. mount a small file system as the data root).
func NewDaemon(extraArgs ...string) (*Daemon, error) {
	bin, err := Binary("berthd")
	if err != nil {
		return nil, err
	}
	base, err := os.MkdirTemp("/tmp", "bt-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		Bin: bin, base: base, Args: extraArgs,
		Socket: filepath.Join(base, "s.sock"), DataRoot: filepath.Join(base, "data"), ExecRoot: filepath.Join(base, "run"),
	}
	d.Host = "unix://" + d.Socket
	if err := os.MkdirAll(d.DataRoot, 0o711); err != nil {
		return nil, err
	}
	return d, nil
}

// Start (re)starts the daemon process on the same directories.
func (d *Daemon) Start() error {
	logf, err := os.OpenFile(filepath.Join(d.base, "berthd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{"-H", d.Host, "--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
		"--pidfile", filepath.Join(d.base, "berthd.pid"), "--log-level", "debug", "--cgroup-parent", d.CgroupParent(),
		"--config-file", filepath.Join(d.base, "daemon.json")}, d.Args...)
	if _, err := os.Stat(filepath.Join(d.base, "daemon.json")); err != nil {
		_ = os.WriteFile(filepath.Join(d.base, "daemon.json"), []byte("{}"), 0o644)
	}
	cmd := exec.Command(d.Bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	d.cmd, d.log = cmd, logf
	d.done = make(chan error, 1)
	go func() { d.done <- cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-d.done:
			d.done <- err
			return fmt.Errorf("berthd exited at start: %v\n%s", err, d.Logs())
		default:
		}
		if c, err := client.New(client.WithHost(d.Host)); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, perr := c.Ping(ctx, client.PingOptions{})
			cancel()
			c.Close()
			if perr == nil {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("berthd did not answer in time\n%s", d.Logs())
}

// Logs returns what the daemon logged so far.
func (d *Daemon) Logs() string {
	b, _ := os.ReadFile(filepath.Join(d.base, "berthd.log"))
	return string(b)
}

// Client returns an API client for the daemon.
func (d *Daemon) Client() (*client.Client, error) {
	return client.New(client.WithHost(d.Host))
}

// Stop stops the daemon with SIGTERM (containers keep running).
func (d *Daemon) Stop() error { return d.signal(syscall.SIGTERM) }

// Kill kills the daemon with SIGKILL (containers keep running).
func (d *Daemon) Kill() error { return d.signal(syscall.SIGKILL) }

func (d *Daemon) signal(sig syscall.Signal) error {
	if d.cmd == nil {
		return nil
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
	d.log.Close()
	return nil
}

// ImportBusybox imports the busybox rootfs as ref (e.g. "busybox:latest").
func (d *Daemon) ImportBusybox(ctx context.Context, ref string) error {
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return err
	}
	tarball, err := BusyboxTar(bin)
	if err != nil {
		return err
	}
	c, err := d.Client()
	if err != nil {
		return err
	}
	defer c.Close()
	rc, err := c.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(tarball), SourceName: "-"}, ref, client.ImageImportOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Cleanup removes every container through the API, stops the daemon, and
// then makes sure nothing is left: shims and container processes killed,
// mounts under the daemon's directories detached, directories removed.
func (d *Daemon) Cleanup() {
	if d.cmd != nil {
		if c, err := d.Client(); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			if list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true}); err == nil {
				for _, ct := range list.Items {
					_, _ = c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true})
				}
			}
			// User networks take their bridges with them.
			if nets, err := c.NetworkList(ctx, client.NetworkListOptions{}); err == nil {
				for _, n := range nets.Items {
					if n.Name != "bridge" && n.Name != "host" && n.Name != "none" {
						_, _ = c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
					}
				}
			}
			cancel()
			c.Close()
		}
		_ = d.Stop()
	}
	killUnder(d.base)
	unmountUnder(d.base)
	removeNetworkState(d.ExecRoot)
	removeCgroups(d.CgroupParent())
	_ = os.RemoveAll(d.base)
}

// CgroupParent is the daemon's own cgroup parent, removed by Cleanup.
func (d *Daemon) CgroupParent() string { return "berth-test-" + filepath.Base(d.base) }

// removeCgroups removes the (by then empty) cgroup parent in every
// hierarchy, deepest first.
func removeCgroups(parent string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	if st, err := os.Stat(filepath.Join("/sys/fs/cgroup", parent)); err == nil && st.IsDir() {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", parent))
	}
	for _, d := range dirs {
		subs, _ := os.ReadDir(d)
		for _, s := range subs {
			if s.IsDir() {
				_ = os.Remove(filepath.Join(d, s.Name()))
			}
		}
		_ = os.Remove(d)
	}
}

// removeNetworkState deletes the default bridge and the nftables table of
// the daemon whose exec root is execRoot (their names derive from it, see
// network.DefaultConfig), and any bridge a user network left.
func removeNetworkState(execRoot string) {
	h := sha256.Sum256([]byte(execRoot))
	suffix := hex.EncodeToString(h[:4])
	_ = exec.Command("ip", "link", "del", "bb"+suffix).Run()
	_ = exec.Command("nft", "delete", "table", "inet", "berth-"+suffix).Run()
}

// killUnder kills processes whose command line or cwd mentions dir (shims
// and runc instances of this daemon), and runc containers in its state dir.
func killUnder(dir string) {
	for _, name := range []string{"runtime-runc", "runtime-crun"} {
		root := filepath.Join(dir, "run", name)
		entries, _ := os.ReadDir(root)
		for _, e := range entries {
			bin := strings.TrimPrefix(name, "runtime-")
			_ = exec.Command(bin, "--root", root, "delete", "--force", e.Name()).Run()
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		b, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(p.Name(), &pid); err == nil && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var targets []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			targets = append(targets, f[4])
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		_ = unix.Unmount(targets[i], unix.MNT_DETACH)
	}
}

// Mounts lists the mount points below dir (for leak checks).
func Mounts(dir string) []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out
}
