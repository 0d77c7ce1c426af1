//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// stats reports figures that match the cgroup: the memory limit set with
// -m, a busy loop's CPU, the process count.
func TestStats_MatchCgroup(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sh", "-c", "while true; do :; done"}},
		&container.HostConfig{Resources: container.Resources{Memory: 64 << 20}})
	startC(t, c, id)
	res, err := c.ContainerStats(t.Context(), id, client.ContainerStatsOptions{Stream: false})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s.MemoryStats.Limit != 64<<20 || s.MemoryStats.Usage == 0 {
		t.Errorf("memory: %+v", s.MemoryStats)
	}
	if s.PidsStats.Current < 1 {
		t.Errorf("pids: %+v", s.PidsStats)
	}
	dc := s.CPUStats.CPUUsage.TotalUsage - s.PreCPUStats.CPUUsage.TotalUsage
	ds := s.CPUStats.SystemUsage - s.PreCPUStats.SystemUsage
	if ds == 0 || float64(dc)/float64(ds)*float64(s.CPUStats.OnlineCPUs) < 0.5 {
		t.Errorf("a busy loop uses little CPU: container %d ns of %d ns on %d CPUs", dc, ds, s.CPUStats.OnlineCPUs)
	}
	if s.Name == "" || s.ID != id {
		t.Errorf("name/id: %q %q", s.Name, s.ID)
	}
}

// update changes the limits of a running container (seen in its cgroup
// through stats) and its restart policy.
func TestUpdate_RunningContainer(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sleep", "100"}}, &container.HostConfig{Resources: container.Resources{Memory: 64 << 20}})
	startC(t, c, id)
	if _, err := c.ContainerUpdate(t.Context(), id, client.ContainerUpdateOptions{
		Resources: &container.Resources{Memory: 128 << 20, MemorySwap: 256 << 20}, RestartPolicy: &container.RestartPolicy{Name: container.RestartPolicyAlways},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := c.ContainerStats(t.Context(), id, client.ContainerStatsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var s container.StatsResponse
	err = json.NewDecoder(res.Body).Decode(&s)
	res.Body.Close()
	if err != nil || s.MemoryStats.Limit != 128<<20 {
		t.Fatalf("limit after update: %d %v", s.MemoryStats.Limit, err)
	}
	if hc := inspect(t, c, id).HostConfig; hc.Memory != 128<<20 || hc.RestartPolicy.Name != container.RestartPolicyAlways {
		t.Fatalf("host config after update: %d %s", hc.Memory, hc.RestartPolicy.Name)
	}
}

// A memory hog is OOM-killed at its limit: exit 137 and OOMKilled, as Docker.
func TestLimits_OOMKilled(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "x=a; while true; do x=$x$x; done"}},
		&container.HostConfig{Resources: container.Resources{Memory: 32 << 20, MemorySwap: 32 << 20}})
	code, _, _ := runToExit(t, c, id)
	if st := inspect(t, c, id).State; code != 137 || !st.OOMKilled {
		t.Fatalf("exit %d, state %+v", code, st)
	}
}

// --pids-limit stops a fork bomb short: the cgroup's limit is 20 and the
// processes the bomb leaves stay at or under it.
func TestLimits_PidsLimit(t *testing.T) {
	c := apiClient(t)
	limit := int64(20)
	script := `cat /sys/fs/cgroup/pids/pids.max; (i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; sleep 30`
	id := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", script}},
		&container.HostConfig{Resources: container.Resources{PidsLimit: &limit}})
	startC(t, c, id)
	var s container.StatsResponse
	for i := 0; i < 40; i++ {
		res, err := c.ContainerStats(t.Context(), id, client.ContainerStatsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&s)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if s.PidsStats.Current >= 20 {
			break
		}
	}
	if s.PidsStats.Current > 20 || s.PidsStats.Limit != 20 {
		t.Fatalf("pids: %+v", s.PidsStats)
	}
	if out, _ := logs(t, c, id, client.ContainerLogsOptions{}); strings.TrimSpace(out) != "20" {
		t.Fatalf("pids.max seen inside: %q", out)
	}
}

// --cpus 0.5 holds a busy loop near half a core, measured over a second
// through the container's CPU counters.
func TestLimits_CPUs(t *testing.T) {
	c := apiClient(t)
	id := create(t, c, "", &container.Config{Cmd: []string{"sh", "-c", "while true; do :; done"}},
		&container.HostConfig{Resources: container.Resources{NanoCPUs: 500_000_000}})
	startC(t, c, id)
	sample := func() container.StatsResponse {
		res, err := c.ContainerStats(t.Context(), id, client.ContainerStatsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var s container.StatsResponse
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := sample()
	time.Sleep(time.Second)
	b := sample()
	cores := float64(b.CPUStats.CPUUsage.TotalUsage-a.CPUStats.CPUUsage.TotalUsage) / float64(b.Read.Sub(a.Read).Nanoseconds())
	if cores < 0.3 || cores > 0.7 {
		t.Fatalf("busy loop under --cpus 0.5 used %.2f cores", cores)
	}
}
