package container

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

func TestDecideRestart_Policies(t *testing.T) {
	always := container.RestartPolicy{Name: container.RestartPolicyAlways}
	onFail3 := container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3}
	tests := []struct {
		name      string
		p         container.RestartPolicy
		code, n   int
		manual    bool
		ran, last time.Duration
		want      restartDecision
	}{
		{"no policy", container.RestartPolicy{Name: container.RestartPolicyDisabled}, 1, 0, false, 0, 0, restartDecision{}},
		{"empty policy", container.RestartPolicy{}, 1, 0, false, 0, 0, restartDecision{}},
		{"always first", always, 0, 0, false, time.Second, 0, restartDecision{true, 100 * time.Millisecond}},
		{"always doubles", always, 0, 1, false, time.Second, 400 * time.Millisecond, restartDecision{true, 800 * time.Millisecond}},
		{"always resets after long run", always, 0, 5, false, 11 * time.Second, 3200 * time.Millisecond, restartDecision{true, 100 * time.Millisecond}},
		{"always capped", always, 0, 20, false, time.Second, 50 * time.Second, restartDecision{true, time.Minute}},
		{"manual stop wins", always, 0, 0, true, time.Second, 0, restartDecision{}},
		{"unless-stopped", container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}, 0, 0, false, 0, 0, restartDecision{true, 100 * time.Millisecond}},
		{"on-failure success", onFail3, 0, 0, false, 0, 0, restartDecision{}},
		{"on-failure fails", onFail3, 2, 2, false, 0, 200 * time.Millisecond, restartDecision{true, 400 * time.Millisecond}},
		{"on-failure exhausted", onFail3, 2, 3, false, 0, 0, restartDecision{}},
		{"on-failure unlimited", container.RestartPolicy{Name: container.RestartPolicyOnFailure}, 1, 100, false, 0, 0, restartDecision{true, 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideRestart(tt.p, tt.code, tt.n, tt.manual, tt.ran, tt.last)
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
