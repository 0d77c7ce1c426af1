package container

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the host's cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// statsInterval is the period of streamed stats, as Docker's.
const statsInterval = time.Second

// cgroupFile reads a cgroup file of controller ctrl (cgroup v1) for the
// container, or from the unified hierarchy when v1 has no such controller.
func (m *Manager) cgroupFile(id, ctrl, file string) string {
	rel := filepath.Join(m.cfg.CgroupParent, id)
	b, err := os.ReadFile(filepath.Join(cgroupRoot, ctrl, rel, file))
	if err != nil {
		b, err = os.ReadFile(filepath.Join(cgroupRoot, rel, file))
		if err != nil {
			return ""
		}
	}
	return strings.TrimSpace(string(b))
}

func atou(s string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return n
}

// systemCPU is the host's total CPU time in nanoseconds, from /proc/stat,
// as Docker computes system_cpu_usage.
func systemCPU() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[0] == "cpu" {
			var ticks uint64
			for _, v := range fields[1:8] {
				ticks += atou(v)
			}
			return ticks * uint64(time.Second) / 100 // USER_HZ is 100 on Linux
		}
	}
	return 0
}

// sampleCPU reads the container's CPU counters.
func (m *Manager) sampleCPU(id string) container.CPUStats {
	s := container.CPUStats{SystemUsage: systemCPU(), OnlineCPUs: uint32(runtime.NumCPU())}
	if v := m.cgroupFile(id, "cpuacct", "cpuacct.usage"); v != "" {
		s.CPUUsage.TotalUsage = atou(v)
		for _, p := range strings.Fields(m.cgroupFile(id, "cpuacct", "cpuacct.usage_percpu")) {
			s.CPUUsage.PercpuUsage = append(s.CPUUsage.PercpuUsage, atou(p))
		}
		for _, l := range strings.Split(m.cgroupFile(id, "cpuacct", "cpuacct.stat"), "\n") {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "user":
				s.CPUUsage.UsageInUsermode = atou(v) * uint64(time.Second) / 100
			case "system":
				s.CPUUsage.UsageInKernelmode = atou(v) * uint64(time.Second) / 100
			}
		}
	} else {
		for _, l := range strings.Split(m.cgroupFile(id, "", "cpu.stat"), "\n") {
			k, v, _ := strings.Cut(l, " ")
			switch k {
			case "usage_usec":
				s.CPUUsage.TotalUsage = atou(v) * 1000
			case "user_usec":
				s.CPUUsage.UsageInUsermode = atou(v) * 1000
			case "system_usec":
				s.CPUUsage.UsageInKernelmode = atou(v) * 1000
			}
		}
	}
	for _, l := range strings.Split(m.cgroupFile(id, "cpu", "cpu.stat"), "\n") {
		k, v, _ := strings.Cut(l, " ")
		switch k {
		case "nr_periods":
			s.ThrottlingData.Periods = atou(v)
		case "nr_throttled":
			s.ThrottlingData.ThrottledPeriods = atou(v)
		case "throttled_time":
			s.ThrottlingData.ThrottledTime = atou(v)
		}
	}
	return s
}

// sample reads one StatsResponse (without precpu) for a running container.
func (m *Manager) sample(id string, pid int) container.StatsResponse {
	r := container.StatsResponse{ID: id, OSType: "linux", Read: m.cfg.Now().UTC(), CPUStats: m.sampleCPU(id)}
	mem := &r.MemoryStats
	if v := m.cgroupFile(id, "memory", "memory.usage_in_bytes"); v != "" {
		mem.Usage = atou(v)
		mem.MaxUsage = atou(m.cgroupFile(id, "memory", "memory.max_usage_in_bytes"))
		mem.Failcnt = atou(m.cgroupFile(id, "memory", "memory.failcnt"))
		mem.Limit = atou(m.cgroupFile(id, "memory", "memory.limit_in_bytes"))
		mem.Stats = kvFile(m.cgroupFile(id, "memory", "memory.stat"))
	} else {
		mem.Usage = atou(m.cgroupFile(id, "", "memory.current"))
		mem.Limit = atou(m.cgroupFile(id, "", "memory.max"))
		mem.Stats = kvFile(m.cgroupFile(id, "", "memory.stat"))
	}
	if host := hostMemory(); mem.Limit == 0 || mem.Limit > host {
		mem.Limit = host
	}
	r.PidsStats.Current = atou(m.cgroupFile(id, "pids", "pids.current"))
	if l := m.cgroupFile(id, "pids", "pids.max"); l != "" && l != "max" {
		r.PidsStats.Limit = atou(l)
	}
	for _, l := range strings.Split(m.cgroupFile(id, "blkio", "blkio.throttle.io_service_bytes_recursive"), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		maj, min, _ := strings.Cut(f[0], ":")
		r.BlkioStats.IoServiceBytesRecursive = append(r.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: atou(maj), Minor: atou(min), Op: strings.ToLower(f[1]), Value: atou(f[2])})
	}
	if pid > 0 {
		r.Networks = netDev(pid)
	}
	return r
}

func kvFile(s string) map[string]uint64 {
	out := map[string]uint64{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			out[k] = atou(v)
		}
	}
	return out
}

func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// netDev reads the interface counters of the container's network namespace.
func netDev(pid int) map[string]container.NetworkStats {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return nil
	}
	out := map[string]container.NetworkStats{}
	for _, l := range strings.Split(string(b), "\n")[2:] {
		name, rest, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			continue
		}
		out[name] = container.NetworkStats{RxBytes: atou(f[0]), RxPackets: atou(f[1]), RxErrors: atou(f[2]), RxDropped: atou(f[3]),
			TxBytes: atou(f[8]), TxPackets: atou(f[9]), TxErrors: atou(f[10]), TxDropped: atou(f[11])}
	}
	return out
}

// Stats sends a container's resource figures to fn: once (filled with the
// previous sample's CPU as precpu, so CPU percentages need no wait), or
// every second while stream is set and ctx lasts. A stopped container
// gives one empty sample, as Docker does.
func (m *Manager) Stats(ctx context.Context, ref string, stream bool, fn func(container.StatsResponse) error) error {
	e, err := m.lookup(ref)
	if err != nil {
		return err
	}
	var prev *container.StatsResponse
	for {
		e.mu.Lock()
		id, name, pid, running := e.rec.ID, "/"+e.rec.Name, e.rec.State.Pid, e.running()
		if prev == nil {
			prev = e.lastStats
		}
		e.mu.Unlock()
		var s container.StatsResponse
		if running {
			s = m.sample(id, pid)
		} else {
			s = container.StatsResponse{ID: id, Read: m.cfg.Now().UTC()}
		}
		s.Name = name
		if !running {
			// nothing to compare with
		} else if prev != nil {
			s.PreCPUStats, s.PreRead = prev.CPUStats, prev.Read
		} else if !stream {
			// No earlier sample: take a second one a moment later, so the
			// CPU percentage of `stats --no-stream` means something.
			first := s
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
			s = m.sample(id, pid)
			s.Name = name
			s.PreCPUStats, s.PreRead = first.CPUStats, first.Read
		}
		if running {
			cp := s
			e.mu.Lock()
			e.lastStats = &cp
			e.mu.Unlock()
		}
		if err := fn(s); err != nil || !stream || !running {
			return err
		}
		prev = &s
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
	}
}
