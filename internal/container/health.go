package container

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"berth/internal/log"
	"berth/internal/runtime/shim"
)

// Docker's health check defaults and limits.
const (
	healthDefaultInterval = 30 * time.Second
	healthDefaultTimeout  = 30 * time.Second
	healthDefaultRetries  = 3
	healthMaxLog          = 5
	healthMaxOutput       = 4096
)

// HealthOnFailureAnnotation is berth's --health-on-failure, carried as a
// HostConfig annotation: none (default), kill, restart or stop (moby#28400).
const HealthOnFailureAnnotation = "berth.health-on-failure"

// probe is one health check command, from the container's config.
func probe(hc *container.HealthConfig) []string {
	if hc == nil || len(hc.Test) == 0 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		return hc.Test[1:]
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", strings.Join(hc.Test[1:], " ")}
	}
	return nil // "NONE" or unknown
}

// healthPlan is the timing of a container's checks.
type healthPlan struct {
	cmd                                  []string
	interval, timeout, start, startEvery time.Duration
	retries                              int
}

func planHealth(hc *container.HealthConfig) (healthPlan, bool) {
	cmd := probe(hc)
	if len(cmd) == 0 {
		return healthPlan{}, false
	}
	p := healthPlan{cmd: cmd, interval: hc.Interval, timeout: hc.Timeout, start: hc.StartPeriod, startEvery: hc.StartInterval, retries: hc.Retries}
	if p.interval <= 0 {
		p.interval = healthDefaultInterval
	}
	if p.timeout <= 0 {
		p.timeout = healthDefaultTimeout
	}
	if p.retries <= 0 {
		p.retries = healthDefaultRetries
	}
	if p.startEvery <= 0 {
		p.startEvery = 5 * time.Second
	}
	return p, true
}

// nextHealth applies one probe result to the health state, as Docker: a
// failure during the start period does not count; `retries` consecutive
// failures make the container unhealthy; a success makes it healthy.
func nextHealth(h container.Health, r container.HealthcheckResult, retries int, inStartPeriod bool) container.Health {
	h.Log = append(h.Log, &r)
	if len(h.Log) > healthMaxLog {
		h.Log = h.Log[len(h.Log)-healthMaxLog:]
	}
	if r.ExitCode == 0 {
		h.Status, h.FailingStreak = container.Healthy, 0
		return h
	}
	if inStartPeriod && h.Status != container.Healthy {
		return h
	}
	h.FailingStreak++
	if h.FailingStreak >= retries {
		h.Status = container.Unhealthy
	}
	return h
}

// startHealth runs the container's health checks until it exits. The
// caller holds e.mu.
func (m *Manager) startHealth(e *entry) {
	plan, ok := planHealth(e.rec.Config.Healthcheck)
	if !ok {
		e.rec.State.Health = nil
		return
	}
	e.rec.State.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
	exited := e.exited
	id := e.rec.ID
	started := m.cfg.Now()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithCancel(m.baseCtx)
		defer cancel()
		go func() {
			select {
			case <-exited:
			case <-ctx.Done():
			}
			cancel()
		}()
		for {
			wait := plan.interval
			inStart := m.cfg.Now().Sub(started) < plan.start
			if inStart {
				wait = plan.startEvery
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			res := m.runProbe(ctx, id, plan)
			if ctx.Err() != nil {
				return
			}
			m.applyHealth(ctx, e, exited, res, plan.retries, m.cfg.Now().Sub(started) < plan.start)
		}
	}()
}

// runProbe execs the check in the container and returns its result.
func (m *Manager) runProbe(ctx context.Context, id string, plan healthPlan) container.HealthcheckResult {
	r := container.HealthcheckResult{Start: m.cfg.Now().UTC()}
	finish := func(code int, out string) container.HealthcheckResult {
		r.End, r.ExitCode = m.cfg.Now().UTC(), code
		if len(out) > healthMaxOutput {
			out = out[:healthMaxOutput]
		}
		r.Output = out
		return r
	}
	execID, err := m.ExecCreate(ctx, id, container.ExecCreateRequest{Cmd: plan.cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return finish(-1, err.Error())
	}
	defer m.forgetExec(execID)
	att, err := m.ExecStart(ctx, execID, ExecStartOptions{})
	if err != nil {
		return finish(-1, err.Error())
	}
	out := make(chan string, 1)
	go func() { out <- demux(att) }()
	select {
	case s := <-out:
		att.Close()
		info, _ := m.ExecInspect(ctx, execID)
		code := -1
		if info.ExitCode != nil {
			code = *info.ExitCode
		}
		return finish(code, s)
	case <-time.After(plan.timeout):
		if x, err := m.exec(execID); err == nil {
			x.mu.Lock()
			sock := x.socket
			x.mu.Unlock()
			if sock != "" {
				_ = shimSignal(ctx, sock, syscall.SIGKILL)
			}
		}
		att.Close()
		return finish(-1, "Health check exceeded timeout ("+plan.timeout.String()+")")
	case <-ctx.Done():
		att.Close()
		return finish(-1, "container stopped")
	}
}

// demux reads Docker-framed output into one string.
func demux(r io.Reader) string {
	var buf bytes.Buffer
	var hdr [8]byte
	for buf.Len() < healthMaxOutput*2 {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
			break
		}
	}
	return buf.String()
}

// applyHealth records a probe result, publishes health_status on a change
// and acts on --health-on-failure.
func (m *Manager) applyHealth(ctx context.Context, e *entry, exited chan struct{}, res container.HealthcheckResult, retries int, inStart bool) {
	e.mu.Lock()
	if e.exited != exited || e.rec.State.Health == nil {
		e.mu.Unlock()
		return
	}
	before := e.rec.State.Health.Status
	h := nextHealth(*e.rec.State.Health, res, retries, inStart)
	m.setState(ctx, e, func(st *State) { st.Health = &h })
	id := e.rec.ID
	action := e.rec.HostConfig.Annotations[HealthOnFailureAnnotation]
	if h.Status != before {
		m.publish(e, events.Action("health_status: "+string(h.Status)), nil)
	}
	e.mu.Unlock()
	if h.Status != container.Unhealthy || before == container.Unhealthy {
		return
	}
	log.From(ctx).Info("container unhealthy", "container", id, "action", action)
	switch action {
	case "kill":
		_ = m.Kill(ctx, id, "KILL")
	case "stop":
		_ = m.Stop(ctx, id, StopOptions{})
	case "restart":
		_ = m.Restart(ctx, id, StopOptions{})
	}
}

// forgetExec drops a finished health-check exec from the exec table.
func (m *Manager) forgetExec(id string) {
	m.mu.Lock()
	x := m.execs[id]
	delete(m.execs, id)
	m.mu.Unlock()
	if x == nil {
		return
	}
	if e, err := m.lookup(x.ContainerID); err == nil {
		e.mu.Lock()
		delete(e.execs, id)
		e.mu.Unlock()
	}
}

func shimSignal(ctx context.Context, sock string, sig syscall.Signal) error {
	return shim.Client{Socket: sock}.Signal(ctx, sig)
}
