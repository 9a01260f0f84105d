package tetherlink

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// Top asks the tether for the guest's process table (proto.ReqTop).
func Top(client *ssh.Client, id string, psArgs []string) (compute.TopResult, error) {
	b, err := json.Marshal(proto.TopRequest{Args: psArgs})
	if err != nil {
		return compute.TopResult{}, err
	}
	ok, reply, err := client.SendRequest(proto.ReqTop, true, b)
	if err != nil {
		return compute.TopResult{}, fmt.Errorf("container %s: top: %w", id, errdefs.ErrUnavailable)
	}
	if !ok {
		// The guest's ps refused the options (or could not read /proc).
		return compute.TopResult{}, errdefs.InvalidParameter(string(reply))
	}
	var tr proto.TopReply
	if err := json.Unmarshal(reply, &tr); err != nil {
		return compute.TopResult{}, fmt.Errorf("container %s: top reply: %w", id, err)
	}
	return compute.TopResult{Titles: tr.Titles, Processes: tr.Processes}, nil
}

// Stats asks the tether for the guest's counters (proto.ReqStats).
func Stats(client *ssh.Client, id string) (compute.Stats, error) {
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
	return StatsFromProto(s, time.Now()), nil
}

// StatsFromProto converts the tether's counters, read at read.
func StatsFromProto(s proto.StatsReply, read time.Time) compute.Stats {
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
