package compute

import (
	"context"
	"time"
)

// Stats is one sample of a container VM's counters, measured inside the
// VM (the host sees only the QEMU process). CPU times are nanoseconds
// since the guest booted; CPUAll counts every state of every CPU (idle
// too), so CPUTotal/CPUAll over an interval is the VM's busy share.
type Stats struct {
	Read time.Time // when the sample was taken (host clock)

	CPUTotal  uint64
	CPUUser   uint64
	CPUSystem uint64
	CPUAll    uint64
	PerCPU    []uint64
	CPUs      int

	MemTotal     uint64 // bytes the guest kernel manages (the VM's limit)
	MemAvailable uint64
	MemFree      uint64
	MemStats     map[string]uint64

	Networks map[string]NetStats
	Disks    []DiskStats
	Pids     uint64

	// Pre is an earlier sample of the CPU counters that the guest took
	// itself (nil if none): docker's precpu_stats over an interval the
	// guest measured, so one request gives a CPU share.
	Pre *CPUSample
}

// CPUSample is the CPU part of an earlier sample.
type CPUSample struct {
	Read                                 time.Time // host clock: Stats.Read less the guest-measured age
	CPUTotal, CPUUser, CPUSystem, CPUAll uint64
	PerCPU                               []uint64
}

// NetStats are one guest interface's counters.
type NetStats struct {
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// DiskStats are one guest disk's counters.
type DiskStats struct {
	Name                  string
	Major, Minor          uint64
	Reads, Writes         uint64
	ReadBytes, WriteBytes uint64
}

// Statser samples a running container VM's counters. A VM that is not
// running, or paused, is ErrConflict.
type Statser interface {
	Stats(ctx context.Context, id string) (Stats, error)
}
