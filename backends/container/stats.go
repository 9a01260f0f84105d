package container

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
)

// statsInterval is how often docker samples a container for stats.
const statsInterval = time.Second

// Without stream, the previous sample of any stats request serves as
// precpu_stats if it is at least statsMinGap and at most statsMaxAge old;
// otherwise a second sample is taken statsMinWindow after the first. The
// docker CLI gives up on a sample after 2 s, so one round trip to the
// guest is the goal.
const (
	statsMinGap    = 100 * time.Millisecond
	statsMaxAge    = 30 * time.Second
	statsMinWindow = 500 * time.Millisecond
)

// lastSamples keeps each running container's latest sample.
type lastSamples struct {
	mu sync.Mutex
	m  map[string]compute.Stats
}

func (l *lastSamples) swap(id string, s *compute.Stats) (compute.Stats, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old, ok := l.m[id]
	if s != nil {
		if l.m == nil {
			l.m = map[string]compute.Stats{}
		}
		l.m[id] = *s
	} else {
		delete(l.m, id)
	}
	return old, ok
}

// ContainerStats answers docker stats with samples measured inside the
// VM, in docker's StatsResponse shape. Each sample carries the previous
// one as precpu_stats, so the CLI's CPU % is the VM's busy share over the
// interval times its CPUs (a vCPU kept busy shows about 100 %). Without
// stream, precpu_stats is the guest's own sample of 1–2 s before (the
// tether samples its CPU counters every second), so one round trip
// answers over an interval measured in the guest; a provider without one
// falls back to the previous request's sample or a second sample. One-shot
// answers with one sample and no precpu_stats, as dockerd does. A container
// that is not running reports zeros; a paused one its last counters.
func (b *Backend) ContainerStats(ctx context.Context, name string, cfg containerrouter.StatsConfig) error {
	c, m, err := b.lookup(ctx, name)
	if err != nil {
		return err
	}
	id := c.Spec.ID
	enc := json.NewEncoder(cfg.Output())
	var prev *compute.Stats
	sample := func() (*compute.Stats, error) {
		st, err := b.pl.Stats(ctx, id)
		switch {
		case err == nil:
			return &st, nil
		case errdefs.IsConflict(err) || errdefs.IsNotFound(err):
			last, ok := b.samples.swap(id, nil)
			if ok {
				b.samples.swap(id, &last)
				if now, ierr := b.pl.Inspect(ctx, id); ierr == nil && now.Status.State == compute.StateRunning {
					last.Read = b.now() // paused: nothing moved
					return &last, nil
				}
			}
			return nil, nil // not running: zeros
		default:
			return nil, err
		}
	}
	write := func(cur *compute.Stats) error {
		return enc.Encode(statsResponse(id, m.Name, cur, prev, b.now()))
	}
	cur, err := sample()
	if err != nil {
		return err
	}
	if !cfg.Stream && cfg.OneShot {
		return write(cur)
	}
	if !cfg.Stream {
		if cur == nil {
			b.samples.swap(id, nil)
			return write(nil)
		}
		if cur.Pre != nil {
			// The guest's own earlier sample: one round trip, and an
			// interval the guest measured (a loaded host that delays the
			// VM or the request cannot shrink it to nothing).
			b.samples.swap(id, cur)
			prev = preStats(cur.Pre)
			return write(cur)
		}
		if old, ok := b.samples.swap(id, cur); ok && cur.Read.Sub(old.Read) >= statsMinGap && cur.Read.Sub(old.Read) <= statsMaxAge && old.CPUAll <= cur.CPUAll {
			prev = &old
			return write(cur)
		}
		prev = cur
		if !sleepCtx(ctx, statsMinWindow) {
			return nil
		}
		if cur, err = sample(); err != nil {
			return err
		}
		b.samples.swap(id, cur)
		return write(cur)
	}
	if cur != nil && cur.Pre != nil {
		prev = preStats(cur.Pre) // the first sample has a CPU share too
	}
	for {
		if err := write(cur); err != nil {
			return nil // the client went away
		}
		prev = cur
		if !sleepCtx(ctx, statsInterval) {
			return nil
		}
		if cur, err = sample(); err != nil {
			b.log.Debug("stats: sample failed")
			cur = nil
		}
		b.samples.swap(id, cur)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// preStats is a sample that has only the CPU counters of pre.
func preStats(pre *compute.CPUSample) *compute.Stats {
	return &compute.Stats{Read: pre.Read, CPUTotal: pre.CPUTotal, CPUUser: pre.CPUUser, CPUSystem: pre.CPUSystem,
		CPUAll: pre.CPUAll, PerCPU: pre.PerCPU, CPUs: len(pre.PerCPU)}
}

// cpuStats is docker's CPUStats of a sample (zero for none).
func cpuStats(s *compute.Stats) container.CPUStats {
	if s == nil {
		return container.CPUStats{}
	}
	return container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: s.CPUTotal, PercpuUsage: s.PerCPU,
			UsageInKernelmode: s.CPUSystem, UsageInUsermode: s.CPUUser,
		},
		SystemUsage: s.CPUAll,
		OnlineCPUs:  uint32(s.CPUs),
	}
}

// statsResponse is one docker stats sample.
func statsResponse(id, name string, cur, prev *compute.Stats, now time.Time) container.StatsResponse {
	r := container.StatsResponse{Name: name, ID: id, Read: now.UTC(), CPUStats: cpuStats(cur), PreCPUStats: cpuStats(prev)}
	if prev != nil {
		r.PreRead = prev.Read.UTC()
	}
	if cur == nil {
		return r
	}
	r.Read = cur.Read.UTC()
	r.PidsStats = container.PidsStats{Current: cur.Pids}
	r.MemoryStats = container.MemoryStats{Usage: cur.MemTotal - cur.MemAvailable, Limit: cur.MemTotal, Stats: cur.MemStats}
	if r.MemoryStats.Stats == nil {
		r.MemoryStats.Stats = map[string]uint64{}
	}
	// The CLI subtracts inactive_file from usage; MemAvailable already
	// leaves the page cache out, so report none to subtract.
	delete(r.MemoryStats.Stats, "inactive_file")
	r.Networks = map[string]container.NetworkStats{}
	for nic, n := range cur.Networks {
		r.Networks[nic] = container.NetworkStats{
			RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		}
	}
	for _, d := range cur.Disks {
		r.BlkioStats.IoServiceBytesRecursive = append(r.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "read", Value: d.ReadBytes},
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "write", Value: d.WriteBytes})
		r.BlkioStats.IoServicedRecursive = append(r.BlkioStats.IoServicedRecursive,
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "read", Value: d.Reads},
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "write", Value: d.Writes})
	}
	return r
}
