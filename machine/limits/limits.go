// Package limits reads vic-machine's VCH-wide resource options and turns
// them into cgroup settings.
//
// Units follow VIC, whose VCH was a vSphere resource pool: --cpu and
// --cpu-reservation are MHz ("2000", "2000MHz", "2.5GHz"); because a
// local host is better described in cores, "1core" or "1.5cores" is
// accepted too (1 core = the host's clock, read from /proc/cpuinfo).
// --memory and --memory-reservation are MB ("2048") or a size with a unit
// ("512M", "2G"). Shares are low, normal or high (1:2:4, as vSphere's
// 500/1000/2000 per unit) or a number.
package limits

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vchproject/vch/internal/cgroup"
	"github.com/vchproject/vch/machine/vchconfig"
)

// ParseCPU reads a --cpu or --cpu-reservation value; "" and "0" are none.
func ParseCPU(flag, s string) (vchconfig.CPU, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	bad := fmt.Errorf("--%s %q: use MHz (e.g. 2000 or 2000MHz, 2.5GHz) or cores (e.g. 1core, 1.5cores)", flag, s)
	if v == "" || v == "0" {
		return vchconfig.CPU{}, nil
	}
	num, unit := splitUnit(v)
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return vchconfig.CPU{}, bad
	}
	switch unit {
	case "", "mhz":
		if f != math.Trunc(f) || f > 1e9 {
			return vchconfig.CPU{}, bad
		}
		return vchconfig.CPU{MHz: int64(f)}, nil
	case "ghz":
		if f > 1e6 {
			return vchconfig.CPU{}, bad
		}
		return vchconfig.CPU{MHz: int64(math.Round(f * 1000))}, nil
	case "core", "cores", "c":
		m := int64(math.Round(f * 1000))
		if m < 10 || f > 1e6 {
			return vchconfig.CPU{}, fmt.Errorf("--%s %q: use at least 0.01cores (10 MHz)", flag, s)
		}
		return vchconfig.CPU{MilliCores: m}, nil
	}
	return vchconfig.CPU{}, bad
}

// ParseMemoryMB reads a --memory or --memory-reservation value in MB:
// a bare number is MB (VIC's unit), else a size with K, M, G or T.
func ParseMemoryMB(flag, s string) (int64, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	bad := fmt.Errorf("--%s %q: use MB (e.g. 2048) or a size (e.g. 512M, 2G)", flag, s)
	if v == "" || v == "0" {
		return 0, nil
	}
	num, unit := splitUnit(strings.TrimSuffix(strings.TrimSuffix(v, "ib"), "b"))
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, bad
	}
	var mb float64
	switch unit {
	case "", "m":
		mb = f
	case "k":
		mb = f / 1024
	case "g":
		mb = f * 1024
	case "t":
		mb = f * 1024 * 1024
	default:
		return 0, bad
	}
	if mb < 1 || mb > 1<<40 {
		return 0, bad
	}
	return int64(math.Round(mb)), nil
}

func splitUnit(v string) (num, unit string) {
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		return v, ""
	}
	return v[:i], strings.TrimSpace(v[i:])
}

// ParseShares reads --cpu-shares or --memory-shares: low, normal, high or
// a number from 1 to 1000000. It returns the canonical form ("" for normal).
func ParseShares(flag, s string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "", "normal":
		return "", nil
	case "low", "high":
		return v, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000000 {
		return "", fmt.Errorf("--%s %q: use low, normal, high (1:2:4) or a number from 1 to 1000000", flag, s)
	}
	return strconv.Itoa(n), nil
}

// ShareLevel is the relative weight of shares: low 1000, normal 2000,
// high 4000 (the 1:2:4 of the seed), a number as given.
func ShareLevel(s string) int64 {
	switch s {
	case "", "normal":
		return 2000
	case "low":
		return 1000
	case "high":
		return 4000
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 2000
	}
	return n
}

// CPUSharesV1 maps shares to cgroup v1 cpu.shares: normal is the
// kernel's default 1024, low 512, high 2048; numbers scale alike
// (2000 = 1024), kept within the kernel's 2..262144.
func CPUSharesV1(s string) uint64 {
	v := ShareLevel(s) * 1024 / 2000
	return uint64(min(max(v, 2), 262144))
}

// CPUWeightV2 maps shares to cgroup v2 cpu.weight: normal is the
// default 100, low 50, high 200, within 1..10000.
func CPUWeightV2(s string) uint64 {
	v := ShareLevel(s) * 100 / 2000
	return uint64(min(max(v, 1), 10000))
}

// Host is what CPU amounts are measured against.
type Host struct {
	CPUs   int   // online CPUs
	MHz    int64 // clock of one CPU
	Memory int64 // bytes of RAM
}

// ReadHost reads the host's CPUs, clock and memory from /proc.
func ReadHost() (Host, error) {
	h := Host{}
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return h, fmt.Errorf("read host CPUs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			h.CPUs++
		case "cpu MHz":
			if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && int64(mhz) > h.MHz {
				h.MHz = int64(mhz)
			}
		}
	}
	if h.CPUs == 0 {
		h.CPUs = 1
	}
	if h.MHz == 0 { // no clock reported (some VMs, non-x86): count 1 GHz a core
		h.MHz = 1000
	}
	m, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return h, fmt.Errorf("read host memory: %w", err)
	}
	for _, line := range strings.Split(string(m), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			h.Memory = kb << 10
		}
	}
	return h, nil
}

// MilliCores converts an amount to thousandths of a core on h.
func (h Host) MilliCores(c vchconfig.CPU) int64 {
	if c.MHz != 0 {
		return (c.MHz*1000 + h.MHz/2) / h.MHz
	}
	return c.MilliCores
}

// CapacityMHz is the host's total CPU in MHz.
func (h Host) CapacityMHz() int64 { return int64(h.CPUs) * h.MHz }

// MHz converts an amount to MHz on h.
func (h Host) ToMHz(c vchconfig.CPU) int64 {
	if c.MHz != 0 {
		return c.MHz
	}
	return c.MilliCores * h.MHz / 1000
}

// Period is the CFS period used for CPU limits, in microseconds.
const Period = 100000

// Quota is the CFS quota (µs per Period) of a CPU limit on h; 0: none.
// It is at least 1 ms, the kernel's minimum.
func (h Host) Quota(c vchconfig.CPU) int64 {
	if c.IsZero() {
		return 0
	}
	return max(h.MilliCores(c)*Period/1000, 1000)
}

// Validate checks limits against each other and the host: a reservation
// above its limit or above the host cannot be honoured.
func Validate(l vchconfig.Limits, h Host) error {
	if !l.CPU.IsZero() && !l.CPUReservation.IsZero() && h.MilliCores(l.CPUReservation) > h.MilliCores(l.CPU) {
		return fmt.Errorf("--cpu-reservation %s is above --cpu %s: reserve at most the limit", l.CPUReservation, l.CPU)
	}
	if !l.CPUReservation.IsZero() && h.ToMHz(l.CPUReservation) > h.CapacityMHz() {
		return fmt.Errorf("--cpu-reservation %s is more than this host has (%d CPUs at %d MHz = %d MHz): reserve at most %dMHz", l.CPUReservation, h.CPUs, h.MHz, h.CapacityMHz(), h.CapacityMHz())
	}
	if l.MemoryMB != 0 && l.MemoryReservation > l.MemoryMB {
		return fmt.Errorf("--memory-reservation %dMB is above --memory %dMB: reserve at most the limit", l.MemoryReservation, l.MemoryMB)
	}
	if hostMB := h.Memory >> 20; hostMB > 0 && l.MemoryReservation > hostMB {
		return fmt.Errorf("--memory-reservation %dMB is more than this host has (%d MB): reserve at most %dMB", l.MemoryReservation, hostMB, hostMB)
	}
	return nil
}

// Rows are the limits as label/value pairs, as docker info and inspect
// show them.
func Rows(l vchconfig.Limits, h Host) [][2]string {
	cpu := func(c vchconfig.CPU, none string) string {
		if c.IsZero() {
			return none
		}
		return fmt.Sprintf("%s (%.2f cores of %d MHz)", c, float64(h.MilliCores(c))/1000, h.MHz)
	}
	mem := func(mb int64, none string) string {
		if mb == 0 {
			return none
		}
		return fmt.Sprintf("%d MB", mb)
	}
	shares := func(s string) string {
		if s == "" {
			s = "normal"
		}
		return fmt.Sprintf("%s (%d)", s, ShareLevel(s))
	}
	return [][2]string{
		{"VCH CPU limit", cpu(l.CPU, "unlimited")},
		{"VCH CPU reservation", cpu(l.CPUReservation, "none")},
		{"VCH CPU shares", shares(l.CPUShares)},
		{"VCH memory limit", mem(l.MemoryMB, "unlimited")},
		{"VCH memory reservation", mem(l.MemoryReservation, "none")},
		{"VCH memory shares", shares(l.MemoryShares)},
	}
}

// Settings are the cgroup values that enforce l on h. Memory shares have
// no kernel counterpart (cgroups weigh CPU, not memory): they are
// recorded and shown only.
func Settings(l vchconfig.Limits, h Host) cgroup.Settings {
	return cgroup.Settings{
		CPUQuotaUS:  h.Quota(l.CPU),
		CPUPeriodUS: Period,
		CPUShares:   CPUSharesV1(l.CPUShares),
		CPUWeight:   CPUWeightV2(l.CPUShares),
		MemoryLimit: l.MemoryMB << 20,
		MemorySoft:  l.MemoryReservation << 20,
	}
}

// GroupName is the cgroup name of the VCH at root: its name plus a hash
// of its directory, so same-named VCHs of two state directories differ.
func GroupName(name, root string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(root)))
	return "vch-" + name + "-" + hex.EncodeToString(sum[:4])
}

// Set reports whether any limit, reservation or non-normal share is set.
func Set(l vchconfig.Limits) bool { return l != vchconfig.Limits{} }

// CheckUsage refuses a memory limit below what the VCH's cgroup already
// uses (usage in bytes).
func CheckUsage(name string, l vchconfig.Limits, usage int64) error {
	if l.MemoryMB != 0 && usage > l.MemoryMB<<20 {
		need := (usage + 1<<20 - 1) >> 20
		return fmt.Errorf("--memory %dMB is below what VCH %s already uses (%d MB): use at least %dMB, or remove containers first", l.MemoryMB, name, need, need)
	}
	return nil
}
