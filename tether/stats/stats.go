package stats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vchproject/vch/tether/proto"
)

// jiffy is the length of /proc/stat's unit (USER_HZ = 100 on Linux).
const jiffy = 10_000_000 // ns

// Sample reads the counters under procRoot (/proc) and sysRoot (/sys);
// pids is the number of the container's processes.
func Sample(procRoot, sysRoot string, pids int) (proto.StatsReply, error) {
	var r proto.StatsReply
	if err := readCPU(filepath.Join(procRoot, "stat"), &r); err != nil {
		return r, err
	}
	if err := readMem(filepath.Join(procRoot, "meminfo"), &r); err != nil {
		return r, err
	}
	r.Networks = readNets(filepath.Join(sysRoot, "class", "net"))
	r.Disks = readDisks(filepath.Join(procRoot, "diskstats"), filepath.Join(sysRoot, "block"))
	r.Pids = uint64(pids)
	return r, nil
}

// cpuTimes splits one /proc/stat cpu line: user nice system idle iowait
// irq softirq steal (guest times are already in user).
func cpuTimes(fields []string) (user, system, idle, all uint64) {
	var v [8]uint64
	for i := 0; i < len(v) && i < len(fields); i++ {
		v[i], _ = strconv.ParseUint(fields[i], 10, 64)
	}
	user = (v[0] + v[1]) * jiffy
	system = (v[2] + v[5] + v[6]) * jiffy
	idle = (v[3] + v[4]) * jiffy
	all = user + system + idle + v[7]*jiffy
	return
}

func readCPU(path string, r *proto.StatsReply) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		user, system, idle, all := cpuTimes(f[1:])
		if f[0] == "cpu" {
			r.CPUUser, r.CPUSystem, r.CPUAll = user, system, all
			r.CPUTotal = all - idle
			continue
		}
		r.PerCPU = append(r.PerCPU, all-idle)
	}
	r.CPUs = len(r.PerCPU)
	if r.CPUAll == 0 {
		return fmt.Errorf("stats: no cpu line in %s", path)
	}
	return nil
}

// memStatKeys are the /proc/meminfo lines passed on, by docker's names.
var memStatKeys = map[string]string{
	"Cached": "cache", "Active(file)": "active_file", "Inactive(file)": "inactive_file",
	"Active(anon)": "active_anon", "Inactive(anon)": "inactive_anon", "Shmem": "shmem",
}

func readMem(path string, r *proto.StatsReply) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	r.MemStats = map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		switch key {
		case "MemTotal":
			r.MemTotal = n
		case "MemAvailable":
			r.MemAvailable = n
		case "MemFree":
			r.MemFree = n
		}
		if name, ok := memStatKeys[key]; ok {
			r.MemStats[name] = n
		}
	}
	if r.MemTotal == 0 {
		return fmt.Errorf("stats: no MemTotal in %s", path)
	}
	return nil
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

func readNets(dir string) map[string]proto.NetStats {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[string]proto.NetStats{}
	for _, e := range ents {
		if e.Name() == "lo" {
			continue
		}
		s := filepath.Join(dir, e.Name(), "statistics")
		if _, err := os.Stat(s); err != nil {
			continue
		}
		c := func(n string) uint64 { return readUint(filepath.Join(s, n)) }
		out[e.Name()] = proto.NetStats{
			RxBytes: c("rx_bytes"), RxPackets: c("rx_packets"), RxErrors: c("rx_errors"), RxDropped: c("rx_dropped"),
			TxBytes: c("tx_bytes"), TxPackets: c("tx_packets"), TxErrors: c("tx_errors"), TxDropped: c("tx_dropped"),
		}
	}
	return out
}

// readDisks reads /proc/diskstats for whole disks (those /sys/block
// lists), leaving out loop and ram devices that hold nothing.
func readDisks(path, blockDir string) []proto.DiskStats {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []proto.DiskStats
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		name := f[2]
		if _, err := os.Stat(filepath.Join(blockDir, name)); err != nil {
			continue // a partition, or gone
		}
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") {
			continue
		}
		u := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
		out = append(out, proto.DiskStats{
			Name: name, Major: u(0), Minor: u(1),
			Reads: u(3), ReadBytes: u(5) * 512, Writes: u(7), WriteBytes: u(9) * 512,
		})
	}
	return out
}
