package stats

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// SampleEvery is how often the tether samples its CPU counters in the
// background for Sampler.
const SampleEvery = time.Second

// PreMin is the shortest interval a precpu sample spans: the newest
// background sample at least this old serves as StatsReply.Pre.
const PreMin = 900 * time.Millisecond

// cpuAt is one CPU sample and when (monotonic) it was taken.
type cpuAt struct {
	at  time.Time
	cpu proto.StatsReply // only the CPU fields are set
}

// Sampler keeps the last few CPU samples that Run takes, so that a stats
// request has a previous sample over a real interval measured in the
// guest, whatever the host's round trip or load.
type Sampler struct {
	procRoot string
	now      func() time.Time

	mu   sync.Mutex
	ring [3]cpuAt // newest last; zero entries are unfilled
}

// NewSampler samples procRoot/stat; now is the clock (time.Now).
func NewSampler(procRoot string, now func() time.Time) *Sampler {
	return &Sampler{procRoot: procRoot, now: now}
}

// Tick takes one background sample.
func (s *Sampler) Tick() error {
	var r proto.StatsReply
	at := s.now()
	if err := readCPU(filepath.Join(s.procRoot, "stat"), &r); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	copy(s.ring[:], s.ring[1:])
	s.ring[len(s.ring)-1] = cpuAt{at: at, cpu: r}
	return nil
}

// Run ticks every interval until ctx ends; a failed read is skipped (the
// next one may work, and Pre just stays older).
func (s *Sampler) Run(ctx context.Context, every time.Duration) {
	_ = s.Tick()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.Tick()
		}
	}
}

// Pre returns the newest sample taken at least PreMin before at, or else
// the oldest one there is; nil if there is none, or if the counters went
// backwards (they never should).
func (s *Sampler) Pre(cur proto.StatsReply, at time.Time) *proto.CPUSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pick *cpuAt
	for i := range s.ring {
		e := &s.ring[i]
		if e.at.IsZero() || !e.at.Before(at) {
			continue
		}
		if pick == nil || at.Sub(e.at) >= PreMin {
			pick = e
		}
	}
	if pick == nil || pick.cpu.CPUAll > cur.CPUAll || pick.cpu.CPUTotal > cur.CPUTotal {
		return nil
	}
	c := pick.cpu
	return &proto.CPUSample{
		AgeNs: int64(at.Sub(pick.at)), CPUTotal: c.CPUTotal, CPUUser: c.CPUUser, CPUSystem: c.CPUSystem,
		CPUAll: c.CPUAll, PerCPU: append([]uint64(nil), c.PerCPU...),
	}
}

// Sample is the package's Sample with Pre filled from the background
// samples.
func (s *Sampler) Sample(sysRoot string, pids int) (proto.StatsReply, error) {
	at := s.now()
	r, err := Sample(s.procRoot, sysRoot, pids)
	if err != nil {
		return r, err
	}
	r.Pre = s.Pre(r, at)
	return r, nil
}
