package container

import (
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"
	units "github.com/docker/go-units"

	"github.com/vchproject/vch/portlayer/compute"
)

// zeroTime is how docker prints a time that never happened.
const zeroTime = "0001-01-01T00:00:00Z"

// dockerState is docker's State of a container, derived from the port
// layer's status and the start error docker keeps in Meta.
type dockerState struct {
	Status     string // created, running, restarting, exited
	Running    bool
	Restarting bool
	Paused     bool
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
}

// deriveState mirrors docker: a container whose starts all failed is
// "created" with the failure's exit code (127 for a missing command); a
// failed start after earlier runs shows its code and error too; a container
// waiting out its restart back-off is "restarting" (and Running, as docker
// reports it).
func deriveState(st compute.Status, m *Meta, restarting bool) dockerState {
	d := dockerState{Status: string(st.State), Pid: st.Pid, ExitCode: st.ExitCode, Error: st.Error, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt}
	switch {
	case st.State == compute.StateRunning:
		d.Status, d.Running, d.ExitCode, d.Error = container.StateRunning, true, 0, ""
		if st.Paused {
			d.Status, d.Paused = container.StatePaused, true
		}
		return d
	case st.State == compute.StateCreated || !m.Started:
		d.Status = container.StateCreated
		d.StartedAt, d.FinishedAt = time.Time{}, time.Time{}
	case restarting:
		d.Status, d.Running, d.Restarting = container.StateRestarting, true, true
	default:
		d.Status = container.StateExited
	}
	d.Pid = 0
	if e := m.StartError; e != nil && !e.At.Before(st.FinishedAt) {
		d.ExitCode, d.Error = e.ExitCode, e.Message
	}
	return d
}

// statusText is docker ps's STATUS column ("Up 3 seconds",
// "Exited (3) 2 minutes ago", "Created").
func statusText(d dockerState, now time.Time) string {
	switch d.Status {
	case container.StateRunning:
		return "Up " + units.HumanDuration(now.Sub(d.StartedAt))
	case container.StatePaused:
		return "Up " + units.HumanDuration(now.Sub(d.StartedAt)) + " (Paused)"
	case container.StateCreated:
		return "Created"
	case container.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s ago", d.ExitCode, units.HumanDuration(now.Sub(d.FinishedAt)))
	}
	if d.FinishedAt.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", d.ExitCode, units.HumanDuration(now.Sub(d.FinishedAt)))
}

// timeText formats a state time as docker's inspect does.
func timeText(t time.Time) string {
	if t.IsZero() {
		return zeroTime
	}
	return t.UTC().Format(time.RFC3339Nano)
}
