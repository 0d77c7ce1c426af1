//go:build integration

package integration

import (
	"encoding/json"
	"testing"

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
