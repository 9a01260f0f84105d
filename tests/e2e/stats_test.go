package e2e

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// statsRow is `docker stats --format '{{json .}}'`.
type statsRow struct {
	Name     string
	CPUPerc  string
	MemUsage string
	MemPerc  string
	NetIO    string
	BlockIO  string
	PIDs     string
}

func percent(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		t.Fatalf("percent %q: %v", s, err)
	}
	return f
}

// docker stats --no-stream: a busy loop shows about one vCPU, memory
// usage and the VM's limit, network and block I/O and the process count,
// all measured in the guest. The CPU share is over an interval the guest
// measured (the tether's own previous sample is precpu_stats), so a
// loaded host that delays the VM or the request does not skew it.
func TestStatsNoStream(t *testing.T) {
	img := pulled(t)
	busy := uniqueName(t) + "-busy"
	idle := uniqueName(t) + "-idle"
	mustDocker(t, "run", "-d", "--name", busy, "-m", "256m", img, "sh", "-c", "while :; do :; done")
	defer docker(t, "rm", "-f", busy)
	mustDocker(t, "run", "-d", "--name", idle, img, "sh", "-c", "sleep 1000 & sleep 1000 & wait")
	defer docker(t, "rm", "-f", idle)

	// The API answer: precpu_stats is a real earlier sample, about a
	// second before (guest clock), with the CPU counters behind.
	var api container.StatsResponse
	apiJSON(t, "GET", "/containers/"+busy+"/stats?stream=false", nil, 200, &api)
	window := api.Read.Sub(api.PreRead)
	if api.PreCPUStats.SystemUsage == 0 || api.PreCPUStats.SystemUsage >= api.CPUStats.SystemUsage ||
		api.PreCPUStats.CPUUsage.TotalUsage > api.CPUStats.CPUUsage.TotalUsage || window < 500*time.Millisecond || window > 10*time.Second {
		t.Fatalf("precpu_stats %+v read %v preread %v, cpu_stats %+v", api.PreCPUStats, api.Read, api.PreRead, api.CPUStats)
	}
	if api.CPUStats.OnlineCPUs < 1 || api.MemoryStats.Limit == 0 || api.PidsStats.Current != 1 {
		t.Fatalf("stats %+v", api)
	}

	rows := map[string]statsRow{}
	// The first samples can span the boot; poll until the busy loop's
	// vCPU and the idle VM have settled (broad bands), then check the rest.
	tries := 0
	poll(t, "the busy loop near 100% and the idle container near 0% in stats", func() bool {
		tries++
		r := docker(t, "stats", "--no-stream", "--format", "{{json .}}", busy, idle)
		if r.Exit != 0 {
			// The CLI gives a container 2 s to answer; a VM that a
			// loaded host has not scheduled may miss that once.
			if strings.Contains(r.Stderr, "timeout waiting for stats") {
				t.Logf("try %d: %s", tries, strings.TrimSpace(r.Stderr))
				return false
			}
			t.Fatalf("stats: %s", r)
		}
		rows = map[string]statsRow{}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			var r statsRow
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("stats line %q: %v", line, err)
			}
			rows[r.Name] = r
		}
		bp, ip := percent(t, rows[busy].CPUPerc), percent(t, rows[idle].CPUPerc)
		t.Logf("try %d: busy %.2f%% idle %.2f%%", tries, bp, ip)
		if bp > 110 {
			t.Fatalf("busy loop on one vCPU shows %.1f%%: %+v", bp, rows)
		}
		return bp >= 70 && ip <= 20
	})
	b, i := rows[busy], rows[idle]
	// "12.5MiB / 237.6MiB": the limit is the guest's memory (a bit under -m).
	usage, limit, ok := strings.Cut(b.MemUsage, " / ")
	if !ok || !strings.HasSuffix(limit, "MiB") || strings.HasPrefix(usage, "0B") {
		t.Fatalf("memory %q", b.MemUsage)
	}
	if l, err := strconv.ParseFloat(strings.TrimSuffix(limit, "MiB"), 64); err != nil || l < 150 || l > 256 {
		t.Fatalf("memory limit %q for -m 256m", limit)
	}
	if p := percent(t, b.MemPerc); p <= 0 || p >= 100 {
		t.Fatalf("memory %% %q", b.MemPerc)
	}
	if strings.HasPrefix(b.BlockIO, "0B /") {
		t.Fatalf("block I/O %q: the guest read its image disk", b.BlockIO)
	}
	// sh + two sleeps in the idle one; sh alone in the busy one.
	if i.PIDs != "3" || b.PIDs != "1" {
		t.Fatalf("pids: busy %q idle %q", b.PIDs, i.PIDs)
	}
	if b.NetIO == "" {
		t.Fatalf("net I/O: %+v", b)
	}
}

// docker stats streams a sample a second until the client leaves; stats
// of an exited container are zeros.
func TestStatsStream(t *testing.T) {
	name, _ := runningContainer(t)
	cmd := exec.Command("docker", "stats", "--format", "{{.Name}} {{.PIDs}}", name)
	cmd.Env = dockerEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	seen := 0
	deadline := time.After(90 * time.Second)
	for seen < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("docker stats ended")
			}
			// The CLI redraws the screen with ANSI codes between samples.
			if strings.Contains(l, name+" 1") {
				seen++
			}
		case <-deadline:
			t.Fatalf("saw %d samples", seen)
		}
	}
	mustDocker(t, "stop", "-t", "1", name)
	out2 := mustDocker(t, "stats", "--no-stream", "--format", "{{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", name)
	if got := strings.TrimSpace(out2); got != "0.00% 0B / 0B 0" {
		t.Fatalf("stats of a stopped container: %q", got)
	}
}
