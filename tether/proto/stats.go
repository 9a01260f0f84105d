package proto

// ReqStats (global request, no payload): the reply payload is a
// StatsReply, or on failure the error text. The tether measures the guest:
// CPU time from /proc/stat, memory from /proc/meminfo, NICs from
// /sys/class/net, disks from /proc/diskstats, processes from /proc.
const ReqStats = "vch-stats"

// StatsReply is one sample of the guest's counters. CPU times are in
// nanoseconds since boot. Pre is an earlier sample of the CPU counters
// that the tether took itself, usually 1–2 s before (guest clock), so a
// single request yields a CPU share over a real interval (docker's
// precpu_stats); nil if the tether has none yet.
type StatsReply struct {
	CPUTotal  uint64   `json:"cpuTotal"`  // non-idle time of all CPUs
	CPUUser   uint64   `json:"cpuUser"`   // user and nice
	CPUSystem uint64   `json:"cpuSystem"` // system, irq, softirq
	CPUAll    uint64   `json:"cpuAll"`    // every state, idle included
	PerCPU    []uint64 `json:"perCPU"`    // non-idle time per CPU
	CPUs      int      `json:"cpus"`      // online CPUs

	MemTotal     uint64            `json:"memTotal"` // bytes
	MemAvailable uint64            `json:"memAvailable"`
	MemFree      uint64            `json:"memFree"`
	MemStats     map[string]uint64 `json:"memStats,omitempty"` // a few /proc/meminfo lines, bytes

	Networks map[string]NetStats `json:"networks,omitempty"` // by interface, lo left out
	Disks    []DiskStats         `json:"disks,omitempty"`    // whole disks
	Pids     uint64              `json:"pids"`               // the container's processes

	Pre *CPUSample `json:"pre,omitempty"`
}

// CPUSample is the CPU part of an earlier sample; AgeNs is how long
// before the reply's counters it was taken, by the guest's monotonic clock.
type CPUSample struct {
	AgeNs     int64    `json:"ageNs"`
	CPUTotal  uint64   `json:"cpuTotal"`
	CPUUser   uint64   `json:"cpuUser"`
	CPUSystem uint64   `json:"cpuSystem"`
	CPUAll    uint64   `json:"cpuAll"`
	PerCPU    []uint64 `json:"perCPU"`
}

// NetStats are one interface's counters.
type NetStats struct {
	RxBytes   uint64 `json:"rxBytes"`
	RxPackets uint64 `json:"rxPackets"`
	RxErrors  uint64 `json:"rxErrors"`
	RxDropped uint64 `json:"rxDropped"`
	TxBytes   uint64 `json:"txBytes"`
	TxPackets uint64 `json:"txPackets"`
	TxErrors  uint64 `json:"txErrors"`
	TxDropped uint64 `json:"txDropped"`
}

// DiskStats are one disk's counters.
type DiskStats struct {
	Name       string `json:"name"`
	Major      uint64 `json:"major"`
	Minor      uint64 `json:"minor"`
	Reads      uint64 `json:"reads"`
	Writes     uint64 `json:"writes"`
	ReadBytes  uint64 `json:"readBytes"`
	WriteBytes uint64 `json:"writeBytes"`
}
