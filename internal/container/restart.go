package container

import (
	"time"

	"github.com/moby/moby/api/types/container"
)

// Back-off of restart policies, as Docker's restart manager: the delay
// starts at 100ms and doubles with each restart, is reset when the last run
// lasted at least 10s, and never exceeds a minute.
const (
	backoffStart = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// restartDecision is the plan for a container that just exited.
type restartDecision struct {
	Restart bool
	Delay   time.Duration
}

// decideRestart is a pure function of the exit and the policy.
func decideRestart(p container.RestartPolicy, exitCode, restartCount int, manuallyStopped bool, ranFor, lastDelay time.Duration) restartDecision {
	if manuallyStopped {
		return restartDecision{}
	}
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
	case container.RestartPolicyOnFailure:
		if exitCode == 0 {
			return restartDecision{}
		}
		if p.MaximumRetryCount > 0 && restartCount >= p.MaximumRetryCount {
			return restartDecision{}
		}
	default:
		return restartDecision{}
	}
	d := lastDelay * 2
	if lastDelay == 0 || ranFor >= backoffReset {
		d = backoffStart
	}
	if d > backoffMax {
		d = backoffMax
	}
	return restartDecision{Restart: true, Delay: d}
}
