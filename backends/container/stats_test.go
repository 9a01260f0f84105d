package container

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/docker/docker/api/types/container"

	containerrouter "github.com/vchproject/vch/daemon/router/container"
)

func statsOnce(t *testing.T, e *env, name string, oneShot bool) container.StatsResponse {
	t.Helper()
	var out bytes.Buffer
	err := e.b.ContainerStats(context.Background(), name, containerrouter.StatsConfig{OneShot: oneShot, Output: func() io.Writer { return &out }})
	if err != nil {
		t.Fatal(err)
	}
	var s container.StatsResponse
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%q: %v", out.String(), err)
	}
	return s
}

// cpuPercent is the docker CLI's formula.
func cpuPercent(s container.StatsResponse) float64 {
	cpu := float64(s.CPUStats.CPUUsage.TotalUsage) - float64(s.PreCPUStats.CPUUsage.TotalUsage)
	sys := float64(s.CPUStats.SystemUsage) - float64(s.PreCPUStats.SystemUsage)
	if cpu <= 0 || sys <= 0 {
		return 0
	}
	return cpu / sys * float64(s.CPUStats.OnlineCPUs) * 100
}

func TestStatsShape(t *testing.T) {
	e := newEnv(t)
	e.create("web", container.Config{Cmd: []string{"sleep"}}, nil)
	if s := statsOnce(t, e, "web", false); s.CPUStats.SystemUsage != 0 || s.MemoryStats.Limit != 0 || s.Name != "/web" {
		t.Fatalf("stats of a created container: %+v", s)
	}
	e.start("web")
	s := statsOnce(t, e, "web", false)
	if p := cpuPercent(s); p < 49 || p > 51 {
		t.Fatalf("cpu %% = %.1f, want 50 from the fake's counters: %+v", p, s.CPUStats)
	}
	if s.PreRead.IsZero() || !s.Read.After(s.PreRead) && !s.Read.Equal(s.PreRead) {
		t.Fatalf("read %v preread %v", s.Read, s.PreRead)
	}
	if s.MemoryStats.Usage != 64<<20 || s.MemoryStats.Limit != 256<<20 || s.PidsStats.Current != 1 {
		t.Fatalf("memory and pids: %+v %+v", s.MemoryStats, s.PidsStats)
	}
	if n := s.Networks["eth0"]; n.RxBytes == 0 || n.TxBytes == 0 {
		t.Fatalf("networks: %+v", s.Networks)
	}
	var read, write uint64
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch b.Op {
		case "read":
			read += b.Value
		case "write":
			write += b.Value
		}
	}
	if read == 0 || write == 0 {
		t.Fatalf("block I/O: %+v", s.BlkioStats)
	}
	if one := statsOnce(t, e, "web", true); one.PreCPUStats.SystemUsage != 0 || one.CPUStats.SystemUsage == 0 {
		t.Fatalf("one-shot: %+v", one.CPUStats)
	}
}
