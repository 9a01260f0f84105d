package container

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
)

// EventLogger records docker events (backends/events implements it).
type EventLogger interface {
	Log(typ events.Type, action events.Action, actor events.Actor)
}

type noEvents struct{}

func (noEvents) Log(events.Type, events.Action, events.Actor) {}

// actor is the container as events show it: its labels, image and name,
// plus extra attributes.
func actor(id string, m *Meta, extra map[string]string) events.Actor {
	attrs := map[string]string{}
	if m != nil {
		for k, v := range m.Config.Labels {
			attrs[k] = v
		}
		attrs["image"] = m.Config.Image
		attrs["name"] = strings.TrimPrefix(m.Name, "/")
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return events.Actor{ID: id, Attributes: attrs}
}

// event logs a container event.
func (b *Backend) event(id string, m *Meta, action events.Action, extra map[string]string) {
	b.events.Log(events.ContainerEventType, action, actor(id, m, extra))
}

// networkEvent logs a network event as dockerd does: the actor is the
// network, with the container, the network's name and driver.
func (b *Backend) networkEvent(n network.Network, id string, action events.Action) {
	b.events.Log(events.NetworkEventType, action, events.Actor{ID: n.ID, Attributes: map[string]string{
		"container": id, "name": n.Name, "type": n.Driver,
	}})
}

// networkEvents logs action (connect at start, disconnect when the run
// ends) for every network the container is on.
func (b *Backend) networkEvents(ctx context.Context, id string, action events.Action) {
	if b.net == nil {
		return
	}
	eps, err := b.net.Endpoints(context.WithoutCancel(ctx), id)
	if err != nil {
		return
	}
	for _, ep := range eps {
		if n, err := b.net.Network(context.WithoutCancel(ctx), ep.Network); err == nil {
			b.networkEvent(n, id, action)
		}
	}
}

// eventByID logs a container event, reading the container's Meta for its
// attributes.
func (b *Backend) eventByID(ctx context.Context, id string, action events.Action, extra map[string]string) {
	_, m, _ := b.read(context.WithoutCancel(ctx), id)
	b.event(id, m, action, extra)
}

// diedRuns remembers, per container, the start time of the last run whose
// die event was logged: a run ends once, though the monitor, stop and kill
// may each see its end. Its lock is held while the die event is logged,
// so whoever comes second (stop, to log "stop") finds it logged.
type diedRuns struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (d *diedRuns) forget(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.last, id)
}

// died logs the die event of the run that st ended (once per run), and
// the unmount of its volumes.
func (b *Backend) died(ctx context.Context, id string, st compute.Status) {
	if st.State == compute.StateRunning {
		return
	}
	b.stopHealth(id, false)
	d := &b.diedRuns
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		d.last = map[string]time.Time{}
	}
	if t, ok := d.last[id]; ok && t.Equal(st.StartedAt) {
		return
	}
	d.last[id] = st.StartedAt
	_, m, err := b.read(context.WithoutCancel(ctx), id)
	if errdefs.IsNotFound(err) {
		// Removed meanwhile: a monitor that saw the run end before the
		// removal comes late. Its die was logged before the destroy
		// (rm needs a stopped container); a second one would follow it.
		return
	}
	if err != nil {
		m = nil
	}
	extra := map[string]string{"exitCode": strconv.Itoa(st.ExitCode)}
	if !st.StartedAt.IsZero() && !st.FinishedAt.IsZero() {
		extra["execDuration"] = strconv.Itoa(int(st.FinishedAt.Sub(st.StartedAt).Seconds()))
	}
	b.event(id, m, events.ActionDie, extra)
	b.networkEvents(ctx, id, events.ActionDisconnect)
	if m != nil {
		b.volumeEvents(id, m, events.ActionUnmount)
	}
}

// diedNow reads id's status and logs its die event if the run ended.
func (b *Backend) diedNow(ctx context.Context, id string) {
	if c, err := b.pl.Inspect(context.WithoutCancel(ctx), id); err == nil {
		b.died(ctx, id, c.Status)
	}
}

// volumeEvents logs mount or unmount of each of the container's volumes.
func (b *Backend) volumeEvents(id string, m *Meta, action events.Action) {
	for _, mr := range m.Mounts {
		if mr.Type != "volume" {
			continue
		}
		attrs := map[string]string{"container": id, "driver": "local"}
		if action == events.ActionMount {
			attrs["destination"] = mr.Destination
			attrs["read/write"] = strconv.FormatBool(mr.RW)
			attrs["propagation"] = ""
		}
		b.events.Log(events.VolumeEventType, action, events.Actor{ID: mr.Name, Attributes: attrs})
	}
}

// signalName is the number docker shows in kill events.
func signalAttr(sig int) map[string]string {
	return map[string]string{"signal": strconv.Itoa(sig)}
}
