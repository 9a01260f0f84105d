package stats

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSample(t *testing.T) {
	proc, sys := t.TempDir(), t.TempDir()
	write(t, proc, "stat", `cpu  100 10 50 800 20 5 5 10 0 0
cpu0 60 5 25 400 10 3 2 5 0 0
cpu1 40 5 25 400 10 2 3 5 0 0
intr 12345
ctxt 999
`)
	write(t, proc, "meminfo", `MemTotal:         262144 kB
MemFree:          100000 kB
MemAvailable:     200000 kB
Cached:            50000 kB
Inactive(file):    20000 kB
HugePages_Total:       0
`)
	write(t, proc, "diskstats", `   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0
 254       0 vda 120 0 4096 50 30 0 2048 40 0 60 90
 254       1 vda1 100 0 4000 40 30 0 2048 40 0 50 80
 254      16 vdb 5 0 80 1 0 0 0 0 0 1 1
`)
	for _, d := range []string{"vda", "vdb", "loop0"} {
		write(t, sys, "block/"+d+"/dev", "x")
	}
	write(t, sys, "class/net/eth0/statistics/rx_bytes", "1500\n")
	write(t, sys, "class/net/eth0/statistics/tx_bytes", "700\n")
	write(t, sys, "class/net/eth0/statistics/rx_packets", "12\n")
	write(t, sys, "class/net/lo/statistics/rx_bytes", "99\n")

	r, err := Sample(proc, sys, 3)
	if err != nil {
		t.Fatal(err)
	}
	// user+nice 110, system+irq+softirq 60, idle+iowait 820, steal 10.
	if r.CPUUser != 110*jiffy || r.CPUSystem != 60*jiffy || r.CPUAll != 1000*jiffy || r.CPUTotal != 180*jiffy {
		t.Fatalf("cpu: %+v", r)
	}
	if r.CPUs != 2 || len(r.PerCPU) != 2 || r.PerCPU[0] != 100*jiffy {
		t.Fatalf("per cpu: %v (%d)", r.PerCPU, r.CPUs)
	}
	if r.MemTotal != 262144*1024 || r.MemAvailable != 200000*1024 || r.MemFree != 100000*1024 || r.MemStats["inactive_file"] != 20000*1024 {
		t.Fatalf("memory: %+v", r)
	}
	if len(r.Networks) != 1 || r.Networks["eth0"].RxBytes != 1500 || r.Networks["eth0"].TxBytes != 700 || r.Networks["eth0"].RxPackets != 12 {
		t.Fatalf("networks: %+v", r.Networks)
	}
	if len(r.Disks) != 2 || r.Disks[0].Name != "vda" || r.Disks[0].ReadBytes != 4096*512 || r.Disks[0].WriteBytes != 2048*512 || r.Disks[0].Major != 254 {
		t.Fatalf("disks: %+v", r.Disks)
	}
	if r.Pids != 3 {
		t.Fatalf("pids: %d", r.Pids)
	}
	if _, err := Sample(t.TempDir(), sys, 0); err == nil {
		t.Fatal("no /proc/stat, no error")
	}
}

// The sampler's Pre is the newest background sample at least PreMin old
// (else the oldest), with its age by the sampler's clock.
func TestSamplerPre(t *testing.T) {
	proc := t.TempDir()
	now := time.Unix(1000, 0)
	s := NewSampler(proc, func() time.Time { return now })
	write(t, proc, "meminfo", "MemTotal: 1000 kB\n")
	stat := func(user, idle int) {
		write(t, proc, "stat", fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 %d 0 0 %d 0 0 0 0 0 0\n", user, idle, user, idle))
	}
	cur := func() proto.StatsReply {
		r, err := s.Sample(t.TempDir(), 1)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stat(100, 100)
	if r := cur(); r.Pre != nil {
		t.Fatalf("pre before any background sample: %+v", r.Pre)
	}
	if err := s.Tick(); err != nil {
		t.Fatal(err)
	}
	now = now.Add(300 * time.Millisecond)
	stat(130, 100)
	if r := cur(); r.Pre == nil || r.Pre.AgeNs != int64(300*time.Millisecond) || r.Pre.CPUTotal != 100*jiffy {
		t.Fatalf("only sample: %+v", r.Pre)
	}
	for i := 0; i < 3; i++ { // ticks at +0.3 s, +1.3 s, +2.3 s
		if err := s.Tick(); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		stat(130+100*(i+1), 100)
	}
	// now +3.3 s: the tick at +2.3 s is exactly 1 s old.
	r := cur()
	if r.Pre == nil || r.Pre.AgeNs != int64(time.Second) || r.CPUTotal-r.Pre.CPUTotal != 100*jiffy || r.CPUAll-r.Pre.CPUAll != 100*jiffy {
		t.Fatalf("pre %+v of %+v", r.Pre, r)
	}
	// Counters that went backwards (a different boot) give none.
	stat(1, 1)
	if r := cur(); r.Pre != nil {
		t.Fatalf("pre of smaller counters: %+v", r.Pre)
	}
}
