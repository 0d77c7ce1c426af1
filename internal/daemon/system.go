package daemon

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	systemrouter "berth/internal/api/router/system"
	"berth/internal/api/server"
	ctr "berth/internal/container"
	"berth/internal/filters"
)

func ctrNewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func operatingSystem() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func cgroupVersion() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

// Version answers GET /version.
func (d *Daemon) Version(ctx context.Context) system.VersionResponse {
	kv := kernelVersion()
	return system.VersionResponse{
		Platform: system.PlatformInfo{Name: "berth Engine"},
		Version:  Version, APIVersion: server.MaxAPIVersion, MinAPIVersion: server.MinAPIVersion,
		Os: "linux", Arch: runtime.GOARCH, GoVersion: runtime.Version(), KernelVersion: kv, GitCommit: "berth",
		Components: []system.ComponentVersion{{Name: "Engine", Version: Version, Details: map[string]string{
			"ApiVersion": server.MaxAPIVersion, "MinAPIVersion": server.MinAPIVersion, "Os": "linux",
			"Arch": runtime.GOARCH, "GoVersion": runtime.Version(), "KernelVersion": kv, "GitCommit": "berth",
		}}},
	}
}

// Info answers GET /info.
func (d *Daemon) Info(ctx context.Context) (system.Info, error) {
	list, err := d.containers.List(ctx, ctr.ListOptions{All: true})
	if err != nil {
		return system.Info{}, err
	}
	imgs, err := d.images.Images(ctx)
	if err != nil {
		return system.Info{}, err
	}
	info := system.Info{
		ID: d.id, Containers: len(list), Images: len(imgs), Driver: "overlay2",
		DriverStatus: [][2]string{{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}},
		MemoryLimit:  true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
		IPv4Forwarding: true, Debug: d.cfg.LogLevel == "debug", NGoroutines: runtime.NumGoroutine(),
		SystemTime: time.Now().Format(time.RFC3339Nano), LoggingDriver: d.cfg.LogDriver, CgroupDriver: "cgroupfs",
		CgroupVersion: cgroupVersion(), KernelVersion: kernelVersion(), OperatingSystem: operatingSystem(), OSVersion: "",
		OSType: "linux", Architecture: archName(), IndexServerAddress: "https://index.docker.io/v1/",
		RegistryConfig: &registry.ServiceConfig{IndexConfigs: map[string]*registry.IndexInfo{}},
		NCPU:           runtime.NumCPU(), MemTotal: memTotal(), DockerRootDir: d.cfg.DataRoot, ServerVersion: Version,
		Runtimes: map[string]system.RuntimeWithStatus{}, DefaultRuntime: d.cfg.DefaultRuntime,
		LiveRestoreEnabled: true, Isolation: "", InitBinary: "docker-init",
		SecurityOptions: []string{"name=seccomp,profile=builtin"}, Labels: []string{}, Warnings: []string{},
		CDISpecDirs: []string{},
	}
	info.Name, _ = os.Hostname()
	for name, rt := range d.containers.Runtimes() {
		info.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: rt}}
	}
	for _, c := range list {
		switch c.State {
		case container.StateRunning:
			info.ContainersRunning++
		case container.StatePaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

func archName() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// SubscribeEvents streams events for GET /events.
func (d *Daemon) SubscribeEvents(ctx context.Context, since, until time.Time, f filters.Args) (<-chan events.Message, error) {
	return d.events.Subscribe(ctx, since, until, f)
}

// DiskUsage answers GET /system/df.
func (d *Daemon) DiskUsage(ctx context.Context) (systemrouter.DiskUsage, error) {
	cs, err := d.containers.List(ctx, ctr.ListOptions{All: true, Size: true})
	if err != nil {
		return systemrouter.DiskUsage{}, err
	}
	du, err := d.images.DiskUsage(ctx, imageBackend{d}.usedBy)
	if err != nil {
		return systemrouter.DiskUsage{}, err
	}
	vols, err := d.volumes.Usage(ctx)
	if err != nil {
		return systemrouter.DiskUsage{}, err
	}
	return systemrouter.DiskUsage{LayersSize: du.TotalSize, Images: du.Items, Containers: cs, Volumes: vols}, nil
}
