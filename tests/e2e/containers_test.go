package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRunEchoAndExitCodes(t *testing.T) {
	img := pulled(t)
	r := docker(t, "run", "--rm", img, "echo", "hello")
	if r.Exit != 0 || r.Stdout != "hello\n" {
		t.Fatalf("run echo: %s", r)
	}
	r = docker(t, "run", "--rm", img, "sh", "-c", "exit 3")
	if r.Exit != 3 {
		t.Fatalf("run exit 3: %s", r)
	}
	r = docker(t, "run", "--rm", img, "sh", "-c", "echo out; echo err >&2")
	if r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Fatalf("stdout/stderr mixed: %s", r)
	}
}

func TestRunOptions(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	r := docker(t, "run", "--name", name, "-e", "FOO=bar", "-w", "/tmp/work", "-u", "app", "-h", "myhost", "-l", "team=vch",
		img, "sh", "-c", `echo "$FOO $(pwd) $(id -un) $(hostname)"; grep -c myhost /etc/hosts`)
	defer docker(t, "rm", "-f", name)
	if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "bar /tmp/work app myhost\n") {
		t.Fatalf("run options: %s", r)
	}
	if got := strings.TrimSpace(mustDocker(t, "inspect", "--format", `{{index .Config.Labels "team"}} {{.Config.Hostname}}`, name)); got != "vch myhost" {
		t.Fatalf("inspect labels/hostname: %q", got)
	}
	r = docker(t, "run", "--rm", "--entrypoint", "echo", img, "from", "entrypoint")
	if r.Exit != 0 || r.Stdout != "from entrypoint\n" {
		t.Fatalf("--entrypoint: %s", r)
	}
	r = dockerIn(t, "piped stdin\n", "run", "--rm", "-i", img, "cat")
	if r.Exit != 0 || r.Stdout != "piped stdin\n" {
		t.Fatalf("run -i with stdin: %s", r)
	}
}

type inspectState struct {
	State struct {
		Status     string
		Running    bool
		ExitCode   int
		StartedAt  string
		FinishedAt string
	}
	Config struct {
		Image string
		Cmd   []string
	}
	Image string
	Name  string
}

func inspect(t *testing.T, name string) inspectState {
	t.Helper()
	var out []inspectState
	if err := json.Unmarshal([]byte(mustDocker(t, "inspect", name)), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return out[0]
}

func TestDetachedPsInspectLogsStop(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	id := strings.TrimSpace(mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c", "echo started; echo warn >&2; exec sleep 1000"))
	defer docker(t, "rm", "-f", name)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	ps := mustDocker(t, "ps", "--format", "{{.Names}} {{.Status}}")
	if !strings.Contains(ps, name+" Up") {
		t.Fatalf("ps: %s", ps)
	}
	st := inspect(t, name)
	if !st.State.Running || st.State.Status != "running" || st.Config.Image != img || !strings.HasPrefix(st.Image, "sha256:") || st.State.StartedAt == "" || st.Name != "/"+name {
		t.Fatalf("inspect running: %+v", st)
	}
	// logs: stdout and stderr separate.
	waitFor(t, func() bool { r := docker(t, "logs", name); return r.Stdout == "started\n" && r.Stderr == "warn\n" })
	r := docker(t, "logs", name)
	if r.Stdout != "started\n" || r.Stderr != "warn\n" {
		t.Fatalf("logs: %s", r)
	}
	// stop: sleep dies of SIGTERM → 143.
	mustDocker(t, "stop", "-t", "5", name)
	st = inspect(t, name)
	if st.State.Running || st.State.Status != "exited" || st.State.ExitCode != 143 || st.State.FinishedAt == "0001-01-01T00:00:00Z" {
		t.Fatalf("after stop: %+v", st.State)
	}
	// Output is kept across stop.
	if r := docker(t, "logs", name); r.Stdout != "started\n" || r.Stderr != "warn\n" {
		t.Fatalf("logs after stop: %s", r)
	}
	// start again: the writable layer and logs survive.
	mustDocker(t, "start", name)
	waitFor(t, func() bool { return strings.Count(docker(t, "logs", name).Stdout, "started") == 2 })
	mustDocker(t, "kill", "-s", "KILL", name)
	if st := inspect(t, name); st.State.ExitCode != 137 {
		t.Fatalf("kill -s KILL: exit %d", st.State.ExitCode)
	}
}

func TestStopTimeoutEscalatesToKill(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c", `trap "" TERM; echo trapped; while true; do sleep 1; done`)
	defer docker(t, "rm", "-f", name)
	// run -d returns once sh has started, maybe before the trap is set.
	waitFor(t, func() bool { return strings.Contains(docker(t, "logs", name).Stdout, "trapped") })
	mustDocker(t, "stop", "-t", "2", name)
	if st := inspect(t, name); st.State.ExitCode != 137 {
		t.Fatalf("stop of a TERM-ignoring container: exit %d, want 137", st.State.ExitCode)
	}
}

func TestLogsFollow(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "run", "-d", "--name", name, img, "sh", "-c", "for i in 1 2 3; do echo line$i; sleep 1; done")
	defer docker(t, "rm", "-f", name)
	r := docker(t, "logs", "-f", name)
	if r.Exit != 0 || r.Stdout != "line1\nline2\nline3\n" {
		t.Fatalf("logs -f: %s", r)
	}
}

func TestWaitRmCreateStart(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	mustDocker(t, "create", "--name", name, img, "sh", "-c", "echo attached; exit 7")
	if st := inspect(t, name); st.State.Status != "created" {
		t.Fatalf("after create: %+v", st.State)
	}
	r := docker(t, "start", "-a", name)
	if r.Stdout != "attached\n" || r.Exit != 7 {
		t.Fatalf("start -a: %s", r)
	}
	if out := strings.TrimSpace(mustDocker(t, "wait", name)); out != "7" {
		t.Fatalf("wait: %q", out)
	}
	mustDocker(t, "rm", name)
	r = docker(t, "inspect", name)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such") {
		t.Fatalf("inspect after rm: %s", r)
	}
	// rm -f of a running container.
	mustDocker(t, "run", "-d", "--name", name, img, "sleep", "1000")
	r = docker(t, "rm", name)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "You cannot remove a running container") {
		t.Fatalf("rm running: %s", r)
	}
	mustDocker(t, "rm", "-f", name)
}

func TestPsFilters(t *testing.T) {
	img := pulled(t)
	a, b := uniqueName(t)+"-a", uniqueName(t)+"-b"
	idA := strings.TrimSpace(mustDocker(t, "create", "--name", a, "-l", "tier=front", img, "true"))
	mustDocker(t, "create", "--name", b, "-l", "tier=back", img, "true")
	defer docker(t, "rm", "-f", a, b)
	names := func(args ...string) string {
		return strings.TrimSpace(mustDocker(t, append([]string{"ps", "-a", "--format", "{{.Names}}"}, args...)...))
	}
	if got := names("--filter", "name="+a); got != a {
		t.Fatalf("name filter: %q", got)
	}
	if got := names("--filter", "id="+idA[:12]); got != a {
		t.Fatalf("id filter: %q", got)
	}
	if got := names("--filter", "label=tier=back"); got != b {
		t.Fatalf("label filter: %q", got)
	}
	if got := names("--filter", "status=created", "--filter", "label=tier"); !strings.Contains(got, a) || !strings.Contains(got, b) {
		t.Fatalf("status filter: %q", got)
	}
	if got := names("--filter", "status=running", "--filter", "label=tier"); got != "" {
		t.Fatalf("status=running: %q", got)
	}
}

func TestNameConflictAndNoSuchContainer(t *testing.T) {
	img := pulled(t)
	name := uniqueName(t)
	id := strings.TrimSpace(mustDocker(t, "create", "--name", name, img, "true"))
	defer docker(t, "rm", "-f", name)
	r := docker(t, "create", "--name", name, img, "true")
	want := `Conflict. The container name "/` + name + `" is already in use by container "` + id + `"`
	if r.Exit == 0 || !strings.Contains(r.Stderr, want) {
		t.Fatalf("duplicate name: %s\nwant %s", r, want)
	}
	r = docker(t, "inspect", "--type", "container", "nosuchcontainer")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such container: nosuchcontainer") {
		t.Fatalf("unknown container: %s", r)
	}
	r = docker(t, "stop", "nosuchcontainer")
	if r.Exit == 0 || !strings.Contains(r.Stderr, "No such container: nosuchcontainer") {
		t.Fatalf("stop unknown container: %s", r)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
