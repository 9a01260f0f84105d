package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// docker update: the restart policy at once; memory and CPUs with a
// warning while running, in the VM after a restart.
func TestUpdate(t *testing.T) {
	name, _ := runningContainer(t)
	r := docker(t, "update", "--restart", "on-failure:2", "-m", "300m", "--cpus", "2", name)
	if r.Exit != 0 || !strings.Contains(r.Stdout+r.Stderr, "next starts") {
		t.Fatalf("update: %s", r)
	}
	got := strings.TrimSpace(mustDocker(t, "inspect", "--format",
		"{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", name))
	if got != "on-failure 2 314572800 2000000000" {
		t.Fatalf("inspect after update: %q", got)
	}
	mustDocker(t, "restart", "-t", "1", name)
	if n := strings.TrimSpace(mustDocker(t, "exec", name, "nproc")); n != "2" {
		t.Fatalf("nproc after restart: %q", n)
	}
	mem := strings.Fields(mustDocker(t, "exec", name, "grep", "MemTotal", "/proc/meminfo"))
	kb, err := strconv.Atoi(mem[1])
	if err != nil || kb < 200*1024 || kb > 300*1024 {
		t.Fatalf("MemTotal after -m 300m: %v", mem)
	}
	// --cpu-shares is kept with a warning (the CLI prints it on stdout;
	// docker-py's update test reads the value back); a CPU quota a VM
	// cannot express is a 501.
	if r := docker(t, "update", "--cpu-shares", "512", name); r.Exit != 0 || !strings.Contains(r.Stdout+r.Stderr, "recorded but not applied") {
		t.Fatalf("--cpu-shares: %s", r)
	}
	if got := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.HostConfig.CpuShares}}", name)); got != "512" {
		t.Fatalf("CpuShares after update: %q", got)
	}
	if r := docker(t, "update", "--cpu-quota", "50000", name); r.Exit == 0 || !strings.Contains(r.Stderr, "cannot be updated on a VCH") {
		t.Fatalf("--cpu-quota: %s", r)
	}
}

// docker system df sums images, containers and volumes; -v lists them.
func TestSystemDF(t *testing.T) {
	name, _ := runningContainer(t)
	out := mustDocker(t, "system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}")
	types := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		types[f[0]] = f[1:]
	}
	if len(types["Images"]) < 2 || types["Images"][0] == "0" || types["Containers"][1] == "0" {
		t.Fatalf("system df: %q", out)
	}
	if _, ok := types["Local"]; !ok { // "Local Volumes"
		t.Fatalf("system df lacks volumes: %q", out)
	}
	if v := mustDocker(t, "system", "df", "-v"); !strings.Contains(v, name) {
		t.Fatalf("system df -v lacks %s:\n%s", name, v)
	}
}
