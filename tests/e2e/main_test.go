package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// env is the world the tests run in.
var env struct {
	repo     string // repo root
	state    string // VCH state dir (base)
	name     string // VCH name
	vchRoot  string // state/name
	port     int
	host     string // tcp://127.0.0.1:port
	certs    string
	config   string // DOCKER_CONFIG
	registry *fixture.Registry
	busybox  string // 127.0.0.1:PORT/busybox:latest, pushed, not pulled
	bbImage  *fixture.Image
	// volStores maps volume store labels to their paths.
	volStores map[string]string
	// bindRoot is the host directory the VCH allows bind mounts under
	// (vic-machine --bind-allow).
	bindRoot string
}

// TestMain runs the suite in a network namespace of its own (the VCHs'
// bridges, rules and VMs never touch the host's network).
func TestMain(m *testing.M) {
	os.Exit(fixture.RunInNetns("vchnet-e2e", func() int { return run(m) }))
}

func run(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		teardown()
		return 1
	}
	code := m.Run()
	teardown()
	return code
}

func setup() error {
	wd, _ := os.Getwd()
	env.repo = filepath.Clean(filepath.Join(wd, "..", ".."))
	if out, err := exec.Command("make", "-C", env.repo, "build").CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %v\n%s", err, out)
	}
	tmp, err := os.MkdirTemp("", "vch-e2e-")
	if err != nil {
		return err
	}
	env.state = filepath.Join(tmp, "state")
	env.config = filepath.Join(tmp, "docker-config")
	if err := os.MkdirAll(env.config, 0o700); err != nil {
		return err
	}
	reg, err := fixture.RunRegistry(filepath.Join(tmp, "registry"))
	if err != nil {
		return err
	}
	env.registry = reg
	env.bbImage, err = fixture.PushBusybox(context.Background(), reg.Addr, "busybox", "latest")
	if err != nil {
		return err
	}
	env.busybox = reg.Addr + "/busybox:latest"
	env.port, err = freePort()
	if err != nil {
		return err
	}
	env.name = "e2e"
	env.volStores = map[string]string{"default": filepath.Join(tmp, "vs-default"), "other": filepath.Join(tmp, "vs other")}
	env.bindRoot = filepath.Join(tmp, "binds")
	if err := os.MkdirAll(env.bindRoot, 0o755); err != nil {
		return err
	}
	// Set before the create: teardown deletes the VCH if its directory
	// exists, also after a create that failed midway.
	env.vchRoot = filepath.Join(env.state, env.name)
	out, err := vicMachine("create", "--name", env.name, "--api-port", fmt.Sprint(env.port), "--bind", "127.0.0.1", "--container-memory", "256M",
		"--volume-store", env.volStores["default"]+":default", "--volume-store", env.volStores["other"]+":other", "--bind-allow", env.bindRoot)
	if err != nil {
		return fmt.Errorf("vic-machine create: %v\n%s", err, out)
	}
	exports := parseExports(out)
	env.host, env.certs = exports["DOCKER_HOST"], exports["DOCKER_CERT_PATH"]
	if env.host == "" || env.certs == "" || exports["DOCKER_TLS_VERIFY"] != "1" {
		return fmt.Errorf("vic-machine create printed no usable exports:\n%s", out)
	}
	return nil
}

func teardown() {
	if _, err := os.Stat(env.vchRoot); env.vchRoot != "" && err == nil {
		if out, err := vicMachine("delete", "--name", env.name, "--force"); err != nil {
			fmt.Fprintf(os.Stderr, "vic-machine delete: %v\n%s\n", err, out)
		}
	}
	if env.registry != nil {
		env.registry.Close()
	}
	if env.state != "" {
		os.RemoveAll(filepath.Dir(env.state))
	}
}

func vicMachine(args ...string) (string, error) {
	args = append(args, "--state-dir", env.state)
	cmd := exec.Command(filepath.Join(env.repo, "bin", "vic-machine"), args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func parseExports(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export "); ok {
			if k, v, ok := strings.Cut(rest, "="); ok {
				m[k] = v
			}
		}
	}
	return m
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dockerEnv is the environment a user has after pasting the export lines.
func dockerEnv() []string { return vchEnviron(env.host, env.certs) }

// vchEnviron is the docker CLI's environment for the VCH at host, with
// the client certificates in certs.
func vchEnviron(host, certs string) []string {
	e := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			e = append(e, kv)
		}
	}
	return append(e, "DOCKER_HOST="+host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+certs, "DOCKER_CONFIG="+env.config)
}

// result of one docker CLI run.
type result struct {
	Stdout, Stderr string
	Exit           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Exit, r.Stdout, r.Stderr)
}

// docker runs the docker CLI with the VCH's environment.
func docker(t *testing.T, args ...string) result {
	t.Helper()
	return dockerIn(t, "", args...)
}

// dockerIn runs docker with stdin.
func dockerIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	r, err := runDocker(nil, dockerEnv(), stdin, args...)
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// waitDelay is how long a command's Wait waits for its output pipes once
// the process has ended (or was killed): a child that inherited them (a
// CLI plugin) cannot keep Wait from returning.
const waitDelay = 10 * time.Second

// killGroupOnCancel runs cmd (made by exec.CommandContext) in its own
// process group and has the context's end kill the whole group: a CLI
// plugin the docker CLI started (Compose v2) stays in the CLI's group and
// outlives a kill of the CLI alone, holding its output pipes. waitDelay
// bounds Wait should anything still hold them.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
}

// dockerLimit bounds one docker CLI command of runDocker.
const dockerLimit = 3 * time.Minute

// runDocker runs the docker CLI (after the prefix argv, e.g. nsenter's)
// with environ and stdin, bounded by dockerLimit. A non-zero exit is in
// the result (-1 if killed, with a note on stderr); err is for a CLI that
// could not run at all.
func runDocker(prefix, environ []string, stdin string, args ...string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerLimit)
	defer cancel()
	argv := append(append(append([]string{}, prefix...), "docker"), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = waitDelay
	cmd.Env = environ
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ctx.Err() != nil {
		r.Stderr += fmt.Sprintf("\n(docker %v killed after %v)", args, dockerLimit)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Exit = ee.ExitCode()
		err = nil
	}
	return r, err
}

// mustDocker fails the test unless docker exits 0; it returns stdout.
func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	r := docker(t, args...)
	if r.Exit != 0 {
		t.Fatalf("docker %s: %s", strings.Join(args, " "), r)
	}
	return r.Stdout
}

// pulled makes sure busybox is in the VCH and returns its reference.
func pulled(t *testing.T) string {
	t.Helper()
	pullOnce.Do(func() { pullResult = docker(t, "pull", env.busybox) })
	if pullResult.Exit != 0 {
		t.Fatalf("pull: %s", pullResult)
	}
	return env.busybox
}

// uniqueName returns a container name unique to this test.
func uniqueName(t *testing.T) string {
	n := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	if len(n) > 40 {
		n = n[len(n)-40:]
	}
	return strings.Trim(n, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
}
