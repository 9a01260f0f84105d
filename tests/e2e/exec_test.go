package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// runningContainer starts a detached busybox that sleeps, removed at the
// end of the test.
func runningContainer(t *testing.T, args ...string) (name, id string) {
	t.Helper()
	img := pulled(t)
	name = uniqueName(t)
	run := append([]string{"run", "-d", "--name", name}, args...)
	run = append(run, img, "sleep", "1000")
	id = strings.TrimSpace(mustDocker(t, run...))
	t.Cleanup(func() { docker(t, "rm", "-f", name) })
	return name, id
}

// poll retries fn until it returns true or the deadline passes.
func poll(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestExecOutputAndExitCodes(t *testing.T) {
	name, _ := runningContainer(t)
	if r := docker(t, "exec", name, "echo", "hi"); r.Exit != 0 || r.Stdout != "hi\n" || r.Stderr != "" {
		t.Fatalf("exec echo: %s", r)
	}
	r := docker(t, "exec", name, "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.Exit != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Fatalf("exec with stderr and exit 3: %s", r)
	}
	// dockerd 20.10 (Debian's docker.io) exits 126 for any exec that
	// cannot start, a missing command included.
	r = docker(t, "exec", name, "no-such-command")
	if r.Exit != 126 || !strings.Contains(r.Stdout+r.Stderr, `exec: "no-such-command": executable file not found in $PATH`) {
		t.Fatalf("exec of a missing command: %s", r)
	}
	// The container is untouched by its execs.
	if st := inspect(t, name).State; !st.Running || st.ExitCode != 0 {
		t.Fatalf("container after execs: %+v", st)
	}
}

func TestExecOptions(t *testing.T) {
	name, _ := runningContainer(t, "-e", "FROM_RUN=kept", "-w", "/home/app")
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nFROM_FILE=file value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `echo "$FROM_RUN|$FROM_EXEC|$FROM_FILE|$(pwd)|$(id -u):$(id -g)"`
	// Defaults come from the container: its env and working directory, root.
	if r := docker(t, "exec", name, "sh", "-c", script); r.Exit != 0 || r.Stdout != "kept|||/home/app|0:0\n" {
		t.Fatalf("exec defaults: %s", r)
	}
	r := docker(t, "exec", "-e", "FROM_EXEC=yes", "--env-file", envFile, "-w", "/tmp", "-u", "app", name, "sh", "-c", script)
	if r.Exit != 0 || r.Stdout != "kept|yes|file value|/tmp|1000:1000\n" {
		t.Fatalf("exec -e --env-file -w -u: %s", r)
	}
	if r := docker(t, "exec", "-u", "nobody:app", name, "sh", "-c", "id -u; id -g"); r.Exit != 0 || r.Stdout != "65534\n1000\n" {
		t.Fatalf("exec -u user:group: %s", r)
	}
	if r := docker(t, "exec", "-u", "ghost", name, "true"); r.Exit == 0 || !strings.Contains(r.Stdout+r.Stderr, "unable to find user ghost") {
		t.Fatalf("exec -u unknown user: %s", r)
	}
	if r := docker(t, "exec", "--privileged", name, "true"); r.Exit != 0 {
		t.Fatalf("exec --privileged: %s", r)
	}
	if r := dockerIn(t, "piped\nstdin\n", "exec", "-i", name, "cat"); r.Exit != 0 || r.Stdout != "piped\nstdin\n" {
		t.Fatalf("exec -i: %s", r)
	}
}

func TestExecDetached(t *testing.T) {
	name, _ := runningContainer(t)
	if r := docker(t, "exec", "-d", name, "sh", "-c", "sleep 1; echo written > /tmp/marker"); r.Exit != 0 || r.Stdout != "" {
		t.Fatalf("exec -d: %s", r)
	}
	poll(t, "the detached exec's file", func() bool {
		r := docker(t, "exec", name, "cat", "/tmp/marker")
		return r.Exit == 0 && r.Stdout == "written\n"
	})
}

// execInspect is GET /exec/{id}/json.
type execInspect struct {
	ID            string
	ContainerID   string
	Running       bool
	ExitCode      *int
	Pid           int
	OpenStdout    bool
	ProcessConfig struct {
		Tty        bool   `json:"tty"`
		Entrypoint string `json:"entrypoint"`
		Arguments  []string
		User       string `json:"user"`
	}
}

func apiJSON(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, apiURL(path), rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func TestExecInspectAndErrors(t *testing.T) {
	name, id := runningContainer(t)
	var created struct{ ID string }
	apiJSON(t, "POST", "/containers/"+name+"/exec", map[string]any{
		"Cmd": []string{"sh", "-c", "exit 4"}, "AttachStdout": true, "User": "app",
	}, http.StatusCreated, &created)
	if len(created.ID) != 64 {
		t.Fatalf("exec id %q", created.ID)
	}
	var ei execInspect
	apiJSON(t, "GET", "/exec/"+created.ID+"/json", nil, http.StatusOK, &ei)
	if ei.Running || ei.ExitCode != nil || ei.ContainerID != id || ei.ProcessConfig.Entrypoint != "sh" ||
		strings.Join(ei.ProcessConfig.Arguments, " ") != "-c exit 4" || ei.ProcessConfig.User != "app" || !ei.OpenStdout {
		t.Fatalf("inspect before start: %+v", ei)
	}
	apiJSON(t, "POST", "/exec/"+created.ID+"/start", map[string]any{"Detach": true}, http.StatusOK, nil)
	poll(t, "the exec's exit", func() bool {
		apiJSON(t, "GET", "/exec/"+created.ID+"/json", nil, http.StatusOK, &ei)
		return !ei.Running && ei.ExitCode != nil
	})
	if *ei.ExitCode != 4 || ei.Pid <= 0 {
		t.Fatalf("inspect after exit: %+v (exit %d)", ei, *ei.ExitCode)
	}
	// A second start is docker's conflict.
	apiJSON(t, "POST", "/exec/"+created.ID+"/start", map[string]any{"Detach": true}, http.StatusConflict, nil)

	// A running exec shows Running, its pid and in the container's ExecIDs.
	apiJSON(t, "POST", "/containers/"+name+"/exec", map[string]any{"Cmd": []string{"sleep", "600"}}, http.StatusCreated, &created)
	apiJSON(t, "POST", "/exec/"+created.ID+"/start", map[string]any{"Detach": true}, http.StatusOK, nil)
	apiJSON(t, "GET", "/exec/"+created.ID+"/json", nil, http.StatusOK, &ei)
	if !ei.Running || ei.Pid <= 0 || ei.ExitCode != nil {
		t.Fatalf("inspect of a running exec: %+v", ei)
	}
	if got := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{json .ExecIDs}}", name)); !strings.Contains(got, created.ID) {
		t.Fatalf("ExecIDs %s lack %s", got, created.ID)
	}

	var msg struct{ Message string }
	apiJSON(t, "GET", "/exec/deadbeef/json", nil, http.StatusNotFound, &msg)
	if msg.Message != "No such exec instance: deadbeef" {
		t.Fatalf("unknown exec: %q", msg.Message)
	}
	apiJSON(t, "POST", "/containers/"+name+"/exec", map[string]any{"Cmd": []string{}}, http.StatusBadRequest, &msg)

	mustDocker(t, "stop", "-t", "1", name)
	// The exec ended with its VM.
	apiJSON(t, "GET", "/exec/"+created.ID+"/json", nil, http.StatusOK, &ei)
	if ei.Running {
		poll(t, "the exec to end with its container", func() bool {
			apiJSON(t, "GET", "/exec/"+created.ID+"/json", nil, http.StatusOK, &ei)
			return !ei.Running
		})
	}
	apiJSON(t, "POST", "/containers/"+name+"/exec", map[string]any{"Cmd": []string{"true"}}, http.StatusConflict, &msg)
	if want := "container " + id + " is not running"; msg.Message != want {
		t.Fatalf("exec in a stopped container: %q, want %q", msg.Message, want)
	}
	if r := docker(t, "exec", name, "true"); r.Exit == 0 || !strings.Contains(r.Stderr, "container "+id+" is not running") {
		t.Fatalf("docker exec in a stopped container: %s", r)
	}
}

func TestExecLargeOutput(t *testing.T) {
	name, _ := runningContainer(t)
	r := docker(t, "exec", name, "sh", "-c", "head -c 5000000 /dev/urandom > /tmp/big; md5sum /tmp/big")
	if r.Exit != 0 {
		t.Fatalf("make data: %s", r)
	}
	want, _, _ := strings.Cut(r.Stdout, " ")
	r = docker(t, "exec", name, "cat", "/tmp/big")
	sum := md5.Sum([]byte(r.Stdout))
	if r.Exit != 0 || len(r.Stdout) != 5000000 || hex.EncodeToString(sum[:]) != want {
		t.Fatalf("exec cat of 5 MB: exit %d, %d bytes, md5 %x, want %s", r.Exit, len(r.Stdout), sum, want)
	}
	// And through stdin the other way.
	in := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	r = dockerIn(t, in, "exec", "-i", name, "md5sum")
	insum := md5.Sum([]byte(in))
	if r.Exit != 0 || !strings.HasPrefix(r.Stdout, hex.EncodeToString(insum[:])) {
		t.Fatalf("exec -i of 1 MiB: %s", r)
	}
}

// exec -it gives a real TTY in the guest: a pty, the client's size, and
// resizes follow the client's terminal.
func TestExecInteractiveTTY(t *testing.T) {
	name, _ := runningContainer(t)
	c := startTTY(t, &pty.Winsize{Rows: 30, Cols: 100}, "exec", "-it", name, "sh")
	c.write("tty; echo MARK-$((6*7))\r")
	c.expect("MARK-42")
	if !c.seen("/dev/pts/") {
		t.Fatalf("tty is not a pty: %s", c.output())
	}
	// The size given at create applies, or the CLI's first resize right
	// after the start: ask until it shows.
	for deadline := time.Now().Add(60 * time.Second); !c.seen("30 100"); {
		if time.Now().After(deadline) {
			t.Fatalf("initial size not applied: %s", c.output())
		}
		c.write("stty size\r")
		time.Sleep(200 * time.Millisecond) // poll
	}
	if err := pty.Setsize(c.ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	// The CLI forwards SIGWINCH as a resize call: ask until it arrived.
	for deadline := time.Now().Add(60 * time.Second); !c.seen("40 120"); {
		if time.Now().After(deadline) {
			t.Fatalf("resize never reached the exec: %s", c.output())
		}
		c.write("stty size\r")
		time.Sleep(200 * time.Millisecond) // poll
	}
	c.write("exit 5\r")
	err, ended := c.wait(60 * time.Second)
	if !ended {
		t.Fatal("docker exec -it did not end after exit")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 5 {
		t.Fatalf("exit from the TTY: %v; output:\n%s", err, c.output())
	}
	// The container keeps running after its interactive exec.
	if st := inspect(t, name).State; !st.Running {
		t.Fatalf("container after exec -it: %+v", st)
	}
}

// ctrl-p ctrl-q detaches from exec -it: the CLI returns, the process keeps
// running.
func TestExecDetachKeys(t *testing.T) {
	name, _ := runningContainer(t)
	c := startTTY(t, nil, "exec", "-it", name, "sh", "-c", "echo READY; exec sleep 888")
	poll(t, "the exec's output", func() bool { return c.seen("READY") })
	c.write("\x10\x11")
	err, ended := c.wait(60 * time.Second)
	if !ended {
		t.Fatal("docker exec -it did not detach")
	}
	// The CLI ends as it does against dockerd: "read escape sequence",
	// exit status 1.
	if ee, ok := err.(*exec.ExitError); (err != nil && !ok) || (ok && ee.ExitCode() != 1) || !c.seen("read escape sequence") {
		t.Fatalf("docker exec after the detach keys: %v; output:\n%q", err, c.output())
	}
	if top := mustDocker(t, "top", name); !strings.Contains(top, "sleep 888") {
		t.Fatalf("the detached exec is gone:\n%s", top)
	}
}
