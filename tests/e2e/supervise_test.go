package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/machine/lockfile"
)

// pidOf reads a pid file of a VCH.
func pidOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// killWait sends SIGKILL to pid and waits until it is gone.
func killWait(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
	poll(t, fmt.Sprintf("pid %d to die", pid), func() bool { return !alive(pid) })
}

// alive reports whether pid is a process that has not ended (a zombie
// has).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// signalVCHD sends sig to the vchd of the VCH whose state directory is
// root and waits until that vchd is gone and, if a supervisor was
// watching it, until the supervisor has either started a new vchd (a new,
// live pid in vchd.pid) or exited; at most 90 s. Whatever comes next
// (vic-machine start, waiting for the API to come back) then does not
// race a supervisor that is still deciding. It returns the vchd pid it
// signalled. SIGTERM: vchd exits 0 and its supervisor ends; SIGKILL: the
// supervisor restarts vchd.
func signalVCHD(t *testing.T, root string, sig syscall.Signal) int {
	t.Helper()
	pidFile := filepath.Join(root, "vchd.pid")
	old := pidOf(t, pidFile)
	// supervisor.lock keeps the pid of a supervisor that died: count it
	// only while that pid is a live vic-machine supervise of this VCH
	// (the pid may be reused, even by another VCH's supervisor).
	sup := lockfile.ReadPid(filepath.Join(root, "supervisor.lock"))
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sup)); sup <= 0 || err != nil || !alive(sup) ||
		!strings.Contains(string(cmdline), "supervise\x00") || !strings.Contains(string(cmdline), "\x00"+root+"\x00") {
		sup = 0
	}
	if err := syscall.Kill(old, sig); err != nil {
		t.Fatalf("signal %v to vchd %d: %v", sig, old, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for alive(old) {
		if time.Now().After(deadline) {
			t.Fatalf("vchd %d still running 90s after %v", old, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for sup > 0 && alive(sup) {
		if now := lockfile.ReadPid(pidFile); now > 0 && now != old && alive(now) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("90s after %v to vchd %d its supervisor %d neither restarted it nor exited", sig, old, sup)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return old
}

// dockerNS runs the docker CLI against v without a *testing.T, so that
// goroutines may call it.
func (v *netVCH) dockerNS(args ...string) result {
	r, err := runDocker(v.nsenter(), v.environ(), "", args...)
	if err != nil {
		r.Exit, r.Stderr = -1, err.Error()
	}
	return r
}

// pollLogs waits (90 s) until docker logs of name on v is want, and
// fails the test with what it last read if it never is.
func pollLogs(t *testing.T, v *netVCH, name, want string) {
	t.Helper()
	var last result
	deadline := time.Now().Add(90 * time.Second)
	for {
		last = v.dockerNS("logs", name)
		if last.Exit == 0 && last.Stdout == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs of %s: want %q, last read: %s", name, want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// vchd runs supervised: after kill -9 it is back without anyone typing
// vic-machine start, in the middle of 10 concurrent docker runs. Every
// container the API acknowledged exists, none exists twice, and what ran
// before (a published port, logs, a volume, inspect) is as it was.
func TestSupervisedVCHDSurvivesKill(t *testing.T) {
	pulled(t)
	v := newNetVCH(t)
	img := env.busybox
	v.must(t, "pull", img)

	v.must(t, "volume", "create", "keep")
	v.must(t, "run", "-d", "--name", "web", "-p", "8085:80", "-v", "keep:/data", img, "sh", "-c", "echo kept > /data/f; echo web-log; "+webCmd)
	waitFetch(t, v.ns, "http://127.0.0.1:8085/", "hello-from-vch")
	before := v.must(t, "inspect", "--format", "{{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.State.Pid}} {{json .Mounts}} {{json .NetworkSettings.Ports}}", "web")
	volsBefore := v.must(t, "volume", "ls", "-q")
	// The container's one line reaches its log in its own time: wait for
	// it rather than read the log once.
	const webLog = "web-log\n"
	pollLogs(t, v, "web", webLog)

	var wg sync.WaitGroup
	results := make([]result, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = v.dockerNS("run", "-d", "--name", fmt.Sprintf("burst-%d", i), img, "sleep", "1000")
		}()
	}
	// Kill vchd once the burst is under way: some containers made, some not.
	poll(t, "the first containers of the burst", func() bool {
		r := v.dockerNS("ps", "-aq", "--filter", "name=burst-")
		return r.Exit == 0 && len(strings.Fields(r.Stdout)) >= 2
	})
	old := signalVCHD(t, v.root, syscall.SIGKILL)
	wg.Wait()

	poll(t, "the supervisor to bring vchd back", func() bool {
		return v.dockerNS("version").Exit == 0
	})
	if now := pidOf(t, filepath.Join(v.root, "vchd.pid")); now == old {
		t.Fatalf("vchd pid unchanged (%d)", now)
	}

	// Nothing lost, nothing twice.
	r := v.dockerNS("ps", "-a", "--no-trunc", "--filter", "name=burst-", "--format", "{{.ID}} {{.Names}}")
	if r.Exit != 0 {
		t.Fatalf("ps: %s", r)
	}
	byName, ids := map[string]int{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if ids[f[0]] {
			t.Fatalf("container %s listed twice:\n%s", f[0], r.Stdout)
		}
		ids[f[0]] = true
		byName[f[1]]++
	}
	acked := 0
	for i, res := range results {
		name := fmt.Sprintf("burst-%d", i)
		if byName[name] > 1 {
			t.Fatalf("%s exists %d times", name, byName[name])
		}
		id := strings.TrimSpace(res.Stdout)
		if res.Exit == 0 && fullID.MatchString(id) {
			acked++
			if !ids[id] {
				t.Fatalf("acknowledged container %s (%s) is gone; ps:\n%s", name, id, r.Stdout)
			}
		}
		// Whatever exists can be removed.
		if byName[name] == 1 {
			if rm := v.dockerNS("rm", "-f", name); rm.Exit != 0 {
				t.Fatalf("rm -f %s: %s", name, rm)
			}
		}
	}
	t.Logf("%d of 10 runs acknowledged before or after the kill", acked)

	// What ran before is as it was.
	if after := v.must(t, "inspect", "--format", "{{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.State.Pid}} {{json .Mounts}} {{json .NetworkSettings.Ports}}", "web"); after != before {
		t.Fatalf("inspect changed:\nbefore %s\nafter  %s", before, after)
	}
	waitFetch(t, v.ns, "http://127.0.0.1:8085/", "hello-from-vch")
	pollLogs(t, v, "web", webLog)
	if got := v.must(t, "volume", "ls", "-q"); got != volsBefore {
		t.Fatalf("volumes after the restart: %q, before %q", got, volsBefore)
	}
	if got := v.must(t, "exec", "web", "cat", "/data/f"); got != "kept\n" {
		t.Fatalf("volume content: %q", got)
	}
}

// Restart policies hold across a vchd restart: with vchd and its
// supervisor killed, containers whose VMs died meanwhile are started again
// by vic-machine start (always, unless-stopped, on-failure), in the
// background; a container without a policy stays exited. vic-machine
// start is not fooled by a live process whose pid a stale vchd.pid names.
func TestRestartPoliciesAcrossVCHDKill(t *testing.T) {
	img := pulled(t)
	policies := []string{"always", "unless-stopped", "on-failure", "no"}
	names := map[string]string{}
	started := map[string]string{}
	for _, p := range policies {
		names[p] = uniqueName(t) + "-" + p
		mustDocker(t, "run", "-d", "--name", names[p], "--restart", p, img, "sleep", "1000")
		defer docker(t, "rm", "-f", names[p])
	}
	ids := map[string]string{}
	for _, p := range policies {
		started[p] = strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.StartedAt}}", names[p]))
		ids[p] = strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.Id}}", names[p]))
	}
	sup := pidOf(t, filepath.Join(env.vchRoot, "supervisor.lock"))
	killWait(t, sup)
	signalVCHD(t, env.vchRoot, syscall.SIGKILL)
	for _, p := range policies {
		killWait(t, pidOf(t, filepath.Join(env.vchRoot, "containers", ids[p], "qemu.pid")))
	}
	// A live process under a stale pid file, as after a host reboot.
	impostor := exec.Command("sleep", "600")
	if err := impostor.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { impostor.Process.Kill(); impostor.Wait() }()
	if err := os.WriteFile(filepath.Join(env.vchRoot, "vchd.pid"), []byte(fmt.Sprintf("%d\n", impostor.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := vicMachine("inspect", "--name", env.name); err != nil || !strings.Contains(out, "stopped") {
		t.Fatalf("inspect with a stale pid: %v\n%s", err, out)
	}
	if out, err := vicMachine("start", "--name", env.name); err != nil {
		t.Fatalf("vic-machine start: %v\n%s", err, out)
	}
	if pid := pidOf(t, filepath.Join(env.vchRoot, "vchd.pid")); pid == impostor.Process.Pid {
		t.Fatal("vic-machine start took the impostor for vchd")
	}
	for _, p := range policies[:3] {
		poll(t, p+" container restarted", func() bool {
			r := docker(t, "inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", names[p])
			f := strings.Fields(r.Stdout)
			return r.Exit == 0 && len(f) == 2 && f[0] == "running" && f[1] != started[p]
		})
	}
	if st := inspect(t, names["no"]); st.State.Running || st.State.ExitCode != 137 {
		t.Fatalf("container without a restart policy: %+v", st.State)
	}
	if out, err := vicMachine("inspect", "--name", env.name); err != nil || !strings.Contains(out, "running") {
		t.Fatalf("inspect after start: %v\n%s", err, out)
	}
}

// A second vchd on the same VCH directory refuses to start, with one clear
// line, and the running one keeps serving.
func TestSecondVCHDRefused(t *testing.T) {
	mustDocker(t, "version")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.repo, "bin", "vchd"), "--config", filepath.Join(env.vchRoot, "config.json"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 3 {
		t.Fatalf("second vchd: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "is already served by vchd pid") {
		t.Fatalf("second vchd said:\n%s", stderr.String())
	}
	mustDocker(t, "version")
}
