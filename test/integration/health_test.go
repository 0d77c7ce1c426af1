//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func waitHealth(t *testing.T, c *client.Client, id string, want container.HealthStatus) container.InspectResponse {
	t.Helper()
	var ins container.InspectResponse
	for i := 0; i < 100; i++ {
		ins = inspect(t, c, id)
		if ins.State.Health != nil && ins.State.Health.Status == want {
			return ins
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("health never became %s: %+v", want, ins.State.Health)
	return ins
}

// Health turns unhealthy after the retries and back to healthy when the
// check passes; ps shows it.
func TestHealth_UnhealthyAndBack(t *testing.T) {
	c := apiClient(t)
	hc := &container.HealthConfig{Test: []string{"CMD-SHELL", "test -f /tmp/ok && echo fine"}, Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, Retries: 2}
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sleep", "100"}, Healthcheck: hc}, nil)
	startC(t, c, id)
	ins := waitHealth(t, c, id, container.Unhealthy)
	if ins.State.Health.FailingStreak < 2 || len(ins.State.Health.Log) == 0 {
		t.Fatalf("unhealthy state: %+v", ins.State.Health)
	}
	if _, code := execOut(t, c, id, client.ExecCreateOptions{Cmd: []string{"touch", "/tmp/ok"}}); code != 0 {
		t.Fatal("touch failed")
	}
	ins = waitHealth(t, c, id, container.Healthy)
	if last := ins.State.Health.Log[len(ins.State.Health.Log)-1]; last.ExitCode != 0 || !strings.Contains(last.Output, "fine") {
		t.Fatalf("last result: %+v", last)
	}
	list, err := c.ContainerList(t.Context(), client.ContainerListOptions{Filters: make(client.Filters).Add("health", "healthy").Add("id", id)})
	if err != nil || len(list.Items) != 1 || !strings.Contains(list.Items[0].Status, "(healthy)") {
		t.Fatalf("ps: %v %+v", err, list.Items)
	}
}

// berth's --health-on-failure (moby#28400), carried as an annotation: an
// unhealthy container is killed.
func TestHealth_OnFailureKill(t *testing.T) {
	c := apiClient(t)
	hc := &container.HealthConfig{Test: []string{"CMD", "false"}, Interval: 100 * time.Millisecond, Retries: 1}
	id := create(t, c, name(t, ""), &container.Config{Cmd: []string{"sleep", "100"}, Healthcheck: hc},
		&container.HostConfig{Annotations: map[string]string{"berth.health-on-failure": "kill"}})
	wait := c.ContainerWait(t.Context(), id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	startC(t, c, id)
	select {
	case r := <-wait.Result:
		if r.StatusCode != 137 {
			t.Fatalf("exit %d, want 137", r.StatusCode)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("unhealthy container was not killed")
	}
	// --no-healthcheck: no health state at all.
	none := create(t, c, "", &container.Config{Cmd: []string{"true"}, Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}, nil)
	runToExit(t, c, none)
	if inspect(t, c, none).State.Health != nil {
		t.Fatal("NONE healthcheck has a state")
	}
}
