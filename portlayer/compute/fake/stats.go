package fake

import (
	"context"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

// Stats implements compute.Statser: counters that grow with every sample
// (the VM is half busy: 10 ms of CPU per 20 ms of CPU time), 256 MiB of
// memory of which 64 MiB in use, one NIC and one disk; Pre is the
// previous sample's CPU counters, a second before.
func (p *Provider) Stats(_ context.Context, id string) (compute.Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.get(id)
	if err != nil {
		return compute.Stats{}, err
	}
	if v.run == nil {
		return compute.Stats{}, notRunning(id)
	}
	if v.c.Status.Paused {
		return compute.Stats{}, pausedError(id)
	}
	v.samples++
	n := uint64(v.samples)
	now := p.Now()
	return compute.Stats{
		Pre: &compute.CPUSample{Read: now.Add(-time.Second), CPUTotal: (n - 1) * 10e6, CPUUser: (n - 1) * 8e6,
			CPUSystem: (n - 1) * 2e6, CPUAll: (n - 1) * 20e6, PerCPU: []uint64{(n - 1) * 10e6}},
		Read: now, CPUTotal: n * 10e6, CPUUser: n * 8e6, CPUSystem: n * 2e6, CPUAll: n * 20e6,
		PerCPU: []uint64{n * 10e6}, CPUs: 1,
		MemTotal: 256 << 20, MemAvailable: 192 << 20, MemFree: 160 << 20, MemStats: map[string]uint64{},
		Networks: map[string]compute.NetStats{"eth0": {RxBytes: n * 1000, TxBytes: n * 500}},
		Disks:    []compute.DiskStats{{Name: "vda", Major: 254, ReadBytes: n * 4096, WriteBytes: n * 512}},
		Pids:     1,
	}, nil
}
