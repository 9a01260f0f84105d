package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vchproject/vch/machine/certs"
)

// vchCLI is the docker CLI for a VCH other than the suite's (bounded as
// runDocker bounds it).
func vchCLI(t *testing.T, host, certs string, args ...string) result {
	t.Helper()
	r, err := runDocker(nil, vchEnviron(host, certs), "", args...)
	if err != nil {
		t.Fatalf("docker %v: %v", args, err)
	}
	return r
}

// vmLimit bounds one vic-machine command: generous (create waits for vchd
// and its first VM under TCG), it only turns a hang into a failure.
const vmLimit = 10 * time.Minute

// vm runs bin/vic-machine with args and returns stdout, stderr, exit code
// (-1, with a note on stderr, if it could not run or was killed after
// vmLimit).
func vm(args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), vmLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(env.repo, "bin", "vic-machine"), args...)
	cmd.WaitDelay = waitDelay
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		fmt.Fprintf(&e, "\n(vic-machine: %v)", err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(&e, "\n(vic-machine %v killed after %v)", args, vmLimit)
	}
	return o.String(), e.String(), code
}

func listTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !strings.HasSuffix(p, ".log") {
			fmt.Fprintf(&b, "%s %v\n", p, fi.IsDir())
		}
		return nil
	})
	return b.String()
}

// The VCH lifecycle through vic-machine: ls prints the seed's table,
// inspect the endpoint, certificates, limits and stores, inspect config a
// create command that makes the same VCH again; bad input is one line and
// changes nothing; delete refuses while containers exist, keeps the volume
// stores (a VCH created again finds its volumes) unless --force.
func TestVicMachineLifecycle(t *testing.T) {
	state := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	name := "lc"
	root := filepath.Join(state, name)
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(root, "config.json")); err == nil {
			vm("delete", "--name", name, "--force", "--state-dir", state)
		}
	})
	out, serr, code := vm("create", "--name", name, "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--container-memory", "256M",
		"--tls-cname", "lc.example.com", "--insecure-registry", env.registry.Addr, "--bridge-network-range", "10.77.0.0/16", "--state-dir", state)
	if code != 0 {
		t.Fatalf("create: %s%s", out, serr)
	}
	ex := parseExports(out)
	host, certs := ex["DOCKER_HOST"], ex["DOCKER_CERT_PATH"]

	ls, _, code := vm("ls", "--state-dir", state)
	lines := strings.Split(strings.TrimSpace(ls), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "ID PATH NAME VERSION UPGRADE STATUS" {
		t.Fatalf("ls:\n%s", ls)
	}
	row := strings.Fields(lines[1])
	if len(row) < 5 || row[1] != root || row[2] != name || strings.Join(row[4:], " ") != "Up to date" {
		t.Fatalf("ls row: %q", lines[1])
	}

	ins, _, code := vm("inspect", "--name", name, "--state-dir", state)
	for _, want := range []string{"Docker endpoint:", "tcp://127.0.0.1:" + fmt.Sprint(port), "client certificates required",
		"Client certificates:", certs, "Container VM limits:", "256 MiB", "Volume store default:", filepath.Join(root, "volumes"),
		"Image store:", "lc.example.com", "running, supervised", "export DOCKER_HOST=" + host, "export DOCKER_TLS_VERIFY=1"} {
		if code != 0 || !strings.Contains(ins, want) {
			t.Fatalf("inspect lacks %q:\n%s", want, ins)
		}
	}
	cfgLine, _, code := vm("inspect", "config", "--name", name, "--state-dir", state)
	cfgLine = strings.TrimSpace(cfgLine)
	for _, want := range []string{"vic-machine create --name lc", "--state-dir " + state, fmt.Sprintf("--api-port %d", port), "--bind 127.0.0.1",
		"--container-memory 256M", "--tls-cname lc.example.com", "--bridge-network-range 10.77.0.0/16", "--insecure-registry " + env.registry.Addr} {
		if code != 0 || !strings.Contains(cfgLine, want) {
			t.Fatalf("inspect config lacks %q: %s", want, cfgLine)
		}
	}

	// Bad input: one line each, and nothing changes.
	otherPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	awaitSettled(t, root)
	before := listTree(t, state)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--name", "lc2", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--name", name, "--api-port", fmt.Sprint(otherPort)}, "already exists"},
		{[]string{"--name", "lc2", "--api-port", fmt.Sprint(port)}, `is the port of VCH "lc"`},
		{[]string{"--name", "lc2", "--api-port", fmt.Sprint(otherPort), "--volume-store", "/etc/hostname/vols:default"}, "is not a directory"},
		{[]string{"--name", "lc2", "--api-port", fmt.Sprint(otherPort), "--registry-ca", notPEM}, "holds no PEM certificate"},
		{[]string{"--name", "lc2", "--api-port", fmt.Sprint(otherPort), "--bridge-network-range", "10.77.128.0/17"}, `overlaps 10.77.0.0/16 of VCH "lc"`},
		{[]string{"--name", "lc2", "--api-port", fmt.Sprint(otherPort), "--registry-ca", "/nonexistent/ca.pem"}, "no such file"},
	} {
		o, e, code := vm(append(append([]string{"create"}, tc.args...), "--state-dir", state)...)
		msg := strings.TrimSpace(e)
		if code == 0 || o != "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "vic-machine create failed: ") || !strings.Contains(msg, tc.want) {
			t.Fatalf("create %q: exit %d\nstdout %q\nstderr %q\nwant one line with %q", tc.args, code, o, e, tc.want)
		}
	}
	if after := listTree(t, state); after != before {
		t.Fatalf("bad input changed the state dir:\nbefore\n%s\nafter\n%s", before, after)
	}

	// delete refuses while a container exists.
	img := env.busybox
	if r := vchCLI(t, host, certs, "pull", img); r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := vchCLI(t, host, certs, "volume", "create", "keepme"); r.Exit != 0 {
		t.Fatalf("volume create: %s", r)
	}
	if r := vchCLI(t, host, certs, "create", "--name", "c1", img, "true"); r.Exit != 0 {
		t.Fatalf("create: %s", r)
	}
	o, e, code := vm("delete", "--name", name, "--state-dir", state)
	if msg := strings.TrimSpace(e); code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "has 1 container(s)") {
		t.Fatalf("delete with a container: exit %d %s %s", code, o, e)
	}
	if r := vchCLI(t, host, certs, "ps", "-aq"); r.Exit != 0 || len(strings.Fields(r.Stdout)) != 1 {
		t.Fatalf("after a refused delete: %s", r)
	}
	if r := vchCLI(t, host, certs, "rm", "c1"); r.Exit != 0 {
		t.Fatalf("rm: %s", r)
	}
	o, e, code = vm("delete", "--name", name, "--state-dir", state)
	if code != 0 || !strings.Contains(o, "Volume store default kept at "+filepath.Join(root, "volumes")) {
		t.Fatalf("delete: exit %d\n%s%s", code, o, e)
	}
	awaitNothingLeft(t, "after delete", func() string {
		if pids, _ := exec.Command("pgrep", "-f", root).Output(); len(strings.TrimSpace(string(pids))) != 0 {
			return "processes " + strings.Join(strings.Fields(string(pids)), " ")
		}
		return ""
	})
	if ls, _, _ := vm("ls", "--state-dir", state); strings.Contains(ls, root) {
		t.Fatalf("ls after delete:\n%s", ls)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 || entries[0].Name() != "volumes" {
		t.Fatalf("delete kept %v, want only the volume store", entries)
	}

	// The printed command line makes the VCH again, and it finds its volume.
	out2, err := exec.Command("sh", "-c", "PATH="+filepath.Join(env.repo, "bin")+":$PATH "+cfgLine).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cfgLine, err, out2)
	}
	if again, _, _ := vm("inspect", "config", "--name", name, "--state-dir", state); strings.TrimSpace(again) != cfgLine {
		t.Fatalf("recreated VCH's config line:\n%s\nwant\n%s", again, cfgLine)
	}
	if r := vchCLI(t, host, certs, "volume", "ls", "-q"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "keepme" {
		t.Fatalf("volumes of the recreated VCH: %s", r)
	}
	if o, e, code := vm("delete", "--name", name, "--force", "--state-dir", state); code != 0 {
		t.Fatalf("delete --force: %s%s", o, e)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatalf("delete --force left %s: %v", root, err)
	}
}

// --tls-ca: client certificates signed by a CA the user supplies are
// accepted (besides the VCH's own); a VCH without it refuses them. A file
// that is no certificate is one line and makes nothing.
func TestTLSCA(t *testing.T) {
	team := t.TempDir()
	if err := certs.Generate(team, filepath.Join(team, "ca-key.pem"), certs.Options{CommonName: "team"}); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vm("delete", "--name", "tlsca", "--force", "--state-dir", state) })
	if _, e, code := vm("create", "--name", "tlsca", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-ca", filepath.Join(team, "key.pem"), "--state-dir", state); code == 0 || !strings.Contains(e, "holds no PEM certificate") || strings.Count(strings.TrimSpace(e), "\n") != 0 {
		t.Fatalf("--tls-ca with a key file: exit %d: %s", code, e)
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatalf("a refused create left %v", entries)
	}
	out, e, code := vm("create", "--name", "tlsca", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-ca", filepath.Join(team, "ca.pem"), "--state-dir", state)
	if code != 0 {
		t.Fatalf("create: %s%s", out, e)
	}
	ex := parseExports(out)

	// A client with the team's certificate, trusting the VCH's server CA.
	client := t.TempDir()
	for src, dst := range map[string]string{
		filepath.Join(ex["DOCKER_CERT_PATH"], "ca.pem"): "ca.pem",
		filepath.Join(team, "cert.pem"):                 "cert.pem",
		filepath.Join(team, "key.pem"):                  "key.pem",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(client, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r := vchCLI(t, ex["DOCKER_HOST"], client, "version", "--format", "{{.Server.Os}}"); r.Exit != 0 || strings.TrimSpace(r.Stdout) != "linux" {
		t.Fatalf("team client on a --tls-ca VCH: %s", r)
	}
	if r := vchCLI(t, ex["DOCKER_HOST"], ex["DOCKER_CERT_PATH"], "version", "--format", "{{.Server.Os}}"); r.Exit != 0 {
		t.Fatalf("the VCH's own client: %s", r)
	}
	if ins, _, _ := vm("inspect", "--name", "tlsca", "--state-dir", state); !strings.Contains(ins, "Extra client CAs:") {
		t.Fatalf("inspect:\n%s", ins)
	}
	// The suite's VCH does not know the team's CA.
	if err := os.WriteFile(filepath.Join(client, "ca.pem"), mustRead(t, filepath.Join(env.certs, "ca.pem")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := vchCLI(t, env.host, client, "version", "--format", "{{.Server.Os}}"); r.Exit == 0 {
		t.Fatalf("a VCH without --tls-ca accepted the team's certificate: %s", r)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --container-name-convention names container VMs and their QEMU
// processes; inspect shows it; a convention without a token is one line.
func TestContainerNameConvention(t *testing.T) {
	state := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vm("delete", "--name", "nc", "--force", "--state-dir", state) })
	if _, e, code := vm("create", "--name", "nc", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--container-name-convention", "myteam", "--state-dir", state); code == 0 || !strings.Contains(e, "has neither {name} nor {id}") {
		t.Fatalf("convention without a token: exit %d: %s", code, e)
	}
	out, e, code := vm("create", "--name", "nc", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--container-memory", "256M",
		"--container-name-convention", "myteam-{name}", "--state-dir", state)
	if code != 0 {
		t.Fatalf("create: %s%s", out, e)
	}
	ex := parseExports(out)
	host, certs := ex["DOCKER_HOST"], ex["DOCKER_CERT_PATH"]
	if r := vchCLI(t, host, certs, "pull", env.busybox); r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := vchCLI(t, host, certs, "run", "-d", "--name", "web", env.busybox, "sleep", "1000"); r.Exit != 0 {
		t.Fatalf("run: %s", r)
	}
	pids, _ := exec.Command("pgrep", "-f", "guest=myteam-web,process=myteam-web").Output()
	f := strings.Fields(string(pids))
	if len(f) != 1 {
		t.Fatalf("QEMU processes named myteam-web: %q", pids)
	}
	if comm, err := os.ReadFile("/proc/" + f[0] + "/comm"); err != nil || strings.TrimSpace(string(comm)) != "myteam-web" {
		t.Fatalf("process name %q, %v", comm, err)
	}
	if ins, _, _ := vm("inspect", "--name", "nc", "--state-dir", state); !strings.Contains(ins, "myteam-{name}") {
		t.Fatalf("inspect:\n%s", ins)
	}
}

// The supervisor brings vchd back after kill -9 in the middle of 10
// concurrent docker creates (no VM boots: the crash-safe create path
// alone): every container the API acknowledged exists, none exists twice,
// each can be removed, and what existed before is as it was.
func TestSupervisedVCHDKillDuringCreates(t *testing.T) {
	state := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the create, so that a create that fails
	// midway (or a failure right after it) leaves nothing behind.
	t.Cleanup(func() { vm("delete", "--name", "sup", "--force", "--state-dir", state) })
	out, e, code := vm("create", "--name", "sup", "--api-port", fmt.Sprint(port), "--bind", "127.0.0.1", "--state-dir", state)
	if code != 0 {
		t.Fatalf("create: %s%s", out, e)
	}
	root := filepath.Join(state, "sup")
	ex := parseExports(out)
	cli := func(args ...string) result { return vchCLI(t, ex["DOCKER_HOST"], ex["DOCKER_CERT_PATH"], args...) }
	if r := cli("pull", env.busybox); r.Exit != 0 {
		t.Fatalf("pull: %s", r)
	}
	if r := cli("volume", "create", "v1"); r.Exit != 0 {
		t.Fatalf("volume create: %s", r)
	}
	if r := cli("create", "--name", "before", "-v", "v1:/data", env.busybox, "true"); r.Exit != 0 {
		t.Fatalf("create: %s", r)
	}
	beforeIns := cli("inspect", "before").Stdout

	var wg sync.WaitGroup
	results := make([]result, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := runDocker(nil, vchEnviron(ex["DOCKER_HOST"], ex["DOCKER_CERT_PATH"]), "", "create", "--name", fmt.Sprintf("burst-%d", i), env.busybox, "true")
			if err != nil {
				r.Exit, r.Stderr = -1, r.Stderr+err.Error()
			}
			results[i] = r
		}()
	}
	poll(t, "the first containers of the burst", func() bool {
		r := cli("ps", "-aq", "--filter", "name=burst-")
		return r.Exit == 0 && len(strings.Fields(r.Stdout)) >= 2
	})
	old := signalVCHD(t, root, syscall.SIGKILL)
	wg.Wait() // each create is bounded by runDocker
	poll(t, "the supervisor to bring vchd back", func() bool { return cli("version").Exit == 0 })
	if now := pidOf(t, filepath.Join(root, "vchd.pid")); now == old {
		t.Fatalf("vchd pid unchanged (%d)", now)
	}
	r := cli("ps", "-a", "--no-trunc", "--filter", "name=burst-", "--format", "{{.ID}} {{.Names}}")
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
		ids[f[0]], byName[f[1]] = true, byName[f[1]]+1
	}
	acked := 0
	for i, res := range results {
		name := fmt.Sprintf("burst-%d", i)
		if byName[name] > 1 {
			t.Fatalf("%s exists %d times", name, byName[name])
		}
		if id := strings.TrimSpace(res.Stdout); res.Exit == 0 && fullID.MatchString(id) {
			acked++
			if !ids[id] {
				t.Fatalf("acknowledged container %s (%s) is gone; ps:\n%s", name, id, r.Stdout)
			}
		}
		if byName[name] == 1 {
			if rm := cli("rm", name); rm.Exit != 0 {
				t.Fatalf("rm %s: %s", name, rm)
			}
		}
	}
	t.Logf("%d of 10 creates acknowledged", acked)
	if left := cli("ps", "-aq", "--filter", "name=burst-"); left.Exit != 0 || strings.TrimSpace(left.Stdout) != "" {
		t.Fatalf("after rm: %s", left)
	}
	// Nothing half-made is left in the state directory either: one
	// container directory (the "before" container's) beside the
	// provider's own files (its accelerator probe, its templates).
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	var ctrDirs []string
	for _, e := range entries {
		if fullID.MatchString(e.Name()) {
			ctrDirs = append(ctrDirs, e.Name())
		}
	}
	if len(ctrDirs) != 1 {
		t.Fatalf("container directories left: %v", ctrDirs)
	}
	if after := cli("inspect", "before").Stdout; after != beforeIns {
		t.Fatalf("inspect changed:\n%s\n%s", beforeIns, after)
	}
	if r := cli("volume", "ls", "-q"); strings.TrimSpace(r.Stdout) != "v1" {
		t.Fatalf("volumes: %s", r)
	}

	// stop ends the supervisor and vchd; start brings both back.
	if o, e, code := vm("stop", "--name", "sup", "--state-dir", state); code != 0 {
		t.Fatalf("stop: %s%s", o, e)
	}
	if pids, _ := exec.Command("pgrep", "-f", root).Output(); len(strings.TrimSpace(string(pids))) != 0 {
		t.Fatalf("stop left processes: %s", pids)
	}
	if ins, _, _ := vm("inspect", "--name", "sup", "--state-dir", state); !strings.Contains(ins, "Daemon: stopped") {
		t.Fatalf("inspect after stop:\n%s", ins)
	}
	if o, e, code := vm("start", "--name", "sup", "--state-dir", state); code != 0 || !strings.Contains(o, "export DOCKER_HOST="+ex["DOCKER_HOST"]) {
		t.Fatalf("start: exit %d %s%s", code, o, e)
	}
	if ins, _, _ := vm("inspect", "--name", "sup", "--state-dir", state); !strings.Contains(ins, "Daemon: running, supervised") {
		t.Fatalf("inspect after start:\n%s", ins)
	}
	if after := cli("inspect", "before").Stdout; after != beforeIns {
		t.Fatalf("inspect changed across stop/start")
	}
}
