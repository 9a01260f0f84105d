package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// Stats asks the tether for the guest's counters (proto.ReqStats).
func (p *Provider) Stats(ctx context.Context, id string) (compute.Stats, error) {
	r, err := p.running(id)
	if err != nil {
		return compute.Stats{}, err
	}
	if p.isPaused(id) {
		return compute.Stats{}, pausedError(id)
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		return compute.Stats{}, err
	}
	ok, reply, err := client.SendRequest(proto.ReqStats, true, nil)
	if err != nil {
		return compute.Stats{}, fmt.Errorf("container %s: stats: %w", id, errdefs.ErrUnavailable)
	}
	if !ok {
		return compute.Stats{}, fmt.Errorf("container %s: stats: %w", id, errors.New(string(reply)))
	}
	var s proto.StatsReply
	if err := json.Unmarshal(reply, &s); err != nil {
		return compute.Stats{}, fmt.Errorf("container %s: stats reply: %w", id, err)
	}
	return fromProto(s, time.Now()), nil
}

func fromProto(s proto.StatsReply, read time.Time) compute.Stats {
	out := compute.Stats{
		Read: read, CPUTotal: s.CPUTotal, CPUUser: s.CPUUser, CPUSystem: s.CPUSystem, CPUAll: s.CPUAll,
		PerCPU: s.PerCPU, CPUs: s.CPUs, MemTotal: s.MemTotal, MemAvailable: s.MemAvailable, MemFree: s.MemFree,
		MemStats: s.MemStats, Pids: s.Pids, Networks: map[string]compute.NetStats{},
	}
	for name, n := range s.Networks {
		out.Networks[name] = compute.NetStats{
			RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		}
	}
	if pre := s.Pre; pre != nil {
		out.Pre = &compute.CPUSample{Read: read.Add(-time.Duration(pre.AgeNs)), CPUTotal: pre.CPUTotal, CPUUser: pre.CPUUser,
			CPUSystem: pre.CPUSystem, CPUAll: pre.CPUAll, PerCPU: pre.PerCPU}
	}
	for _, d := range s.Disks {
		out.Disks = append(out.Disks, compute.DiskStats{Name: d.Name, Major: d.Major, Minor: d.Minor,
			Reads: d.Reads, Writes: d.Writes, ReadBytes: d.ReadBytes, WriteBytes: d.WriteBytes})
	}
	return out
}
