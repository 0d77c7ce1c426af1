package spec

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPathEnv is the PATH dockerd sets when the container's environment
// has none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// DefaultShmSize is the size of /dev/shm when HostConfig.ShmSize is 0
// (dockerd's default-shm-size, 64 MiB).
const DefaultShmSize = 64 << 20

// InitPathInContainer is where the init binary is bind-mounted when
// HostConfig.Init is set.
const InitPathInContainer = "/sbin/docker-init"

// defaultMounts returns dockerd's default mounts in dockerd's order; /dev/shm
// has no size yet.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// DefaultMaskedPaths returns dockerd's masked paths: runc mounts /dev/null
// over files and an empty read-only tmpfs over directories. dockerd adds
// the thermal_throttle directory of each possible CPU that has one
// (GHSA-6fw5-f8r9-fgfm), read from sysfs, so the list depends on the host.
func DefaultMaskedPaths() []string {
	paths := []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap",
		"/sys/firmware",
	}
	for _, cpu := range possibleCPUs() {
		p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", cpu)
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	return paths
}

// DefaultReadonlyPaths returns dockerd's read-only /proc paths.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// possibleCPUs parses /sys/devices/system/cpu/possible ("0-3,5").
func possibleCPUs() []int {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return nil
	}
	return parseCPUList(strings.TrimSpace(string(b)), 4096)
}

// parseCPUList parses a kernel cpu list such as "0-3,8"; it gives up (nil)
// on malformed input and stops at limit entries.
func parseCPUList(s string, limit int) []int {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil
			}
		}
		for i := a; i <= b; i++ {
			if len(out) >= limit {
				return out
			}
			out = append(out, i)
		}
	}
	return out
}

// defaultDeviceRules returns dockerd's device cgroup rules: deny everything,
// allow the standard character devices, deny /dev/fuse explicitly. runc
// creates the device nodes null, zero, full, random, urandom, tty, console
// and ptmx itself.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	c := func(major, minor int64, allow bool) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		c(1, 5, true),     // zero
		c(1, 3, true),     // null
		c(1, 9, true),     // urandom
		c(1, 8, true),     // random
		c(5, 0, true),     // tty
		c(5, 1, true),     // console
		c(10, 229, false), // fuse
	}
}
