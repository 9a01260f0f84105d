package vsimtest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Dockerd is a Debian dockerd (docker.io) of the test's own, the backing
// of the simulator's container VMs (the RUN.container extraConfig key):
// its own data and exec roots, no bridge and no iptables rules, in the
// caller's network namespace, which must be one the test made
// (fixture.RunInNetns in TestMain) so that containers on the host
// network (RUN.network host) see only the test's loopback. It sets
// DOCKER_HOST for the process: the simulator runs the docker CLI.
type Dockerd struct {
	Host string // unix:///…/docker.sock
	dir  string
}

// netnsEnv is set by fixture.RunInNetns in the re-run test binary.
const netnsEnv = "VCH_TEST_NETNS"

// StartDockerd starts dockerd and waits until it answers; it is stopped
// (its containers with it) when t ends.
func StartDockerd(t *testing.T) *Dockerd {
	t.Helper()
	if os.Getenv(netnsEnv) == "" {
		t.Fatalf("dockerd must run in a network namespace the test made (%s unset: use fixture.RunInNetns in TestMain)", netnsEnv)
	}
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		t.Fatalf("Debian's dockerd (docker.io) is needed: %v", err)
	}
	// Unix socket paths are short: not under t.TempDir's long name.
	dir, err := os.MkdirTemp("", "vchsimdk")
	if err != nil {
		t.Fatal(err)
	}
	d := &Dockerd{Host: "unix://" + filepath.Join(dir, "docker.sock"), dir: dir}
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", d.Host, "--pidfile", filepath.Join(dir, "docker.pid"), "--bridge=none", "--iptables=false", "--ip6tables=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("dockerd log:\n%s", lastLines(string(b), 30))
			}
		}
		// dockerd leaves its network namespace bind-mounted.
		if err := unix.Unmount(filepath.Join(dir, "exec", "netns", "default"), unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			t.Errorf("unmount dockerd's netns: %v", err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove dockerd's directory: %v", err)
		}
	})
	t.Setenv("DOCKER_HOST", d.Host)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := d.Docker("version", "--format", "{{.Server.Version}}"); err == nil {
			return d
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup, which waits for the end
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("dockerd ended: %v\n%s", err, lastLines(string(b), 20))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("dockerd never answered")
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Docker runs the docker CLI against this dockerd.
func (d *Dockerd) Docker(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Import makes image name from host files (host path -> path in the
// image, mode kept) and symlinks (path -> target), with docker import:
// there is no registry for the simulator's dockerd.
func (d *Dockerd) Import(t *testing.T, name string, files, links map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dst, "/"), Mode: int64(st.Mode().Perm()), Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(p, "/"), Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "-", name)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"))
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v: %s", name, err, out)
	}
}
