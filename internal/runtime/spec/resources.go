package spec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// cfsPeriod is the CFS period dockerd uses for --cpus, in microseconds.
const cfsPeriod = 100000

// resources fills the cgroup limits dockerd sets from HostConfig.Resources.
// Device rules are filled separately.
func resources(r container.Resources) (*specs.LinuxResources, error) {
	out := &specs.LinuxResources{}

	mem := &specs.LinuxMemory{}
	if r.Memory > 0 {
		mem.Limit = ptr(r.Memory)
		// dockerd doubles the memory limit for swap when none is given.
		if r.MemorySwap == 0 {
			mem.Swap = ptr(2 * r.Memory)
		}
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = ptr(r.MemoryReservation)
	}
	if r.MemorySwap != 0 {
		if r.Memory == 0 && r.MemorySwap > 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("You should always set the Memory limit when using Memoryswap limit, see usage")
		}
		if r.MemorySwap > 0 && r.Memory > 0 && r.MemorySwap < r.Memory {
			return nil, errdefs.ErrInvalidArgument.WithMessage("Minimum memoryswap limit should be larger than memory limit, see usage")
		}
		mem.Swap = ptr(r.MemorySwap)
	}
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 {
		if *r.MemorySwappiness > 100 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid value: %v, valid memory swappiness range is 0-100", *r.MemorySwappiness))
		}
		mem.Swappiness = ptr(uint64(*r.MemorySwappiness))
	}
	if r.OomKillDisable != nil {
		mem.DisableOOMKiller = ptr(*r.OomKillDisable)
	}
	if *mem != (specs.LinuxMemory{}) {
		out.Memory = mem
	}

	cpu := &specs.LinuxCPU{}
	if r.CPUShares < 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("shares: invalid argument")
	}
	if r.CPUShares != 0 {
		cpu.Shares = ptr(uint64(r.CPUShares))
	}
	cpu.Cpus, cpu.Mems = r.CpusetCpus, r.CpusetMems
	if r.NanoCPUs != 0 {
		if r.CPUPeriod != 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("Conflicting options: Nano CPUs and CPU Period cannot both be set")
		}
		if r.CPUQuota != 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
		}
		if r.NanoCPUs < 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("Range of CPUs is from 0.01 to the number of CPUs available on the system")
		}
		cpu.Period = ptr(uint64(cfsPeriod))
		cpu.Quota = ptr(r.NanoCPUs * cfsPeriod / 1e9)
	}
	if r.CPUPeriod != 0 {
		if r.CPUPeriod < 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
		}
		cpu.Period = ptr(uint64(r.CPUPeriod))
	}
	if r.CPUQuota != 0 {
		cpu.Quota = ptr(r.CPUQuota)
	}
	if r.CPURealtimePeriod != 0 {
		cpu.RealtimePeriod = ptr(uint64(r.CPURealtimePeriod))
	}
	if r.CPURealtimeRuntime != 0 {
		cpu.RealtimeRuntime = ptr(r.CPURealtimeRuntime)
	}
	if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil || cpu.Cpus != "" || cpu.Mems != "" ||
		cpu.RealtimePeriod != nil || cpu.RealtimeRuntime != nil {
		out.CPU = cpu
	}

	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			// 0 and negative mean unlimited in the API; runc wants -1.
			limit = -1
		}
		out.Pids = &specs.LinuxPids{Limit: ptr(limit)}
	}
	if r.BlkioWeight != 0 {
		out.BlockIO = &specs.LinuxBlockIO{Weight: ptr(r.BlkioWeight)}
	}
	return out, nil
}

// rlimitNames are the --ulimit names dockerd accepts.
func rlimitNames() []string {
	return []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
		"nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}
}

// rlimits turns --ulimit values into POSIX rlimits; -1 is unlimited.
func rlimits(in []*container.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	known := rlimitNames()
	for _, u := range in {
		if u == nil {
			continue
		}
		ok := false
		for _, n := range known {
			ok = ok || n == u.Name
		}
		if !ok {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid ulimit type: %s", u.Name))
		}
		if u.Soft > u.Hard && u.Hard != -1 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard))
		}
		out = append(out, specs.POSIXRlimit{
			Type: "RLIMIT_" + strings.ToUpper(u.Name),
			Soft: uint64(u.Soft),
			Hard: uint64(u.Hard),
		})
	}
	return out, nil
}

// deviceCgroupRule parses a --device-cgroup-rule ("c 1:3 rwm", "a").
func deviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	bad := errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device cgroup rule format: '%s'", rule))
	r := rule
	if r == "a" {
		r = "a *:* rwm"
	}
	f := strings.Fields(r)
	if len(f) != 3 || strings.Join(f, " ") != r || len(f[0]) != 1 || !strings.Contains("acb", f[0]) {
		return specs.LinuxDeviceCgroup{}, bad
	}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return specs.LinuxDeviceCgroup{}, bad
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			return ptr(int64(-1)), nil
		}
		var n int64
		if s == "" || len(s) > 18 {
			return nil, errors.New("bad number")
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return nil, errors.New("bad number")
			}
			n = n*10 + int64(c-'0')
		}
		return &n, nil
	}
	major, err1 := num(maj)
	minor, err2 := num(min)
	if err1 != nil || err2 != nil || !validAccess(f[2]) {
		return specs.LinuxDeviceCgroup{}, bad
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: major, Minor: minor, Access: f[2]}, nil
}

// validAccess reports whether s is 1-3 of the letters r, w, m.
func validAccess(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }

// Resources returns the cgroup limits of r as the runtime takes them, for
// `update` of a running container.
func Resources(r container.Resources) (*specs.LinuxResources, error) {
	return resources(r)
}
