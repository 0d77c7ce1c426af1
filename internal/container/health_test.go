package container

import (
	"reflect"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestProbeAndPlan(t *testing.T) {
	tests := []struct {
		test []string
		want []string
	}{
		{[]string{"CMD", "true", "x"}, []string{"true", "x"}},
		{[]string{"CMD-SHELL", "test -f /a"}, []string{"/bin/sh", "-c", "test -f /a"}},
		{[]string{"NONE"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := probe(&container.HealthConfig{Test: tt.test}); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("probe(%v) = %v", tt.test, got)
		}
	}
	p, ok := planHealth(&container.HealthConfig{Test: []string{"CMD", "true"}})
	if !ok || p.interval != 30*time.Second || p.timeout != 30*time.Second || p.retries != 3 {
		t.Fatalf("defaults: %+v", p)
	}
	if _, ok := planHealth(&container.HealthConfig{Test: []string{"NONE"}}); ok {
		t.Fatal("NONE planned a check")
	}
}

func TestNextHealth_Transitions(t *testing.T) {
	ok := container.HealthcheckResult{ExitCode: 0}
	bad := container.HealthcheckResult{ExitCode: 1}
	h := container.Health{Status: container.Starting}
	h = nextHealth(h, bad, 2, true)
	if h.Status != container.Starting || h.FailingStreak != 0 {
		t.Fatalf("failure in start period counted: %+v", h)
	}
	h = nextHealth(h, bad, 2, false)
	if h.Status != container.Starting || h.FailingStreak != 1 {
		t.Fatalf("one failure: %+v", h)
	}
	h = nextHealth(h, bad, 2, false)
	if h.Status != container.Unhealthy || h.FailingStreak != 2 {
		t.Fatalf("two failures: %+v", h)
	}
	h = nextHealth(h, ok, 2, false)
	if h.Status != container.Healthy || h.FailingStreak != 0 {
		t.Fatalf("recovery: %+v", h)
	}
	for i := 0; i < 10; i++ {
		h = nextHealth(h, ok, 2, false)
	}
	if len(h.Log) != healthMaxLog {
		t.Fatalf("log kept %d entries", len(h.Log))
	}
}
