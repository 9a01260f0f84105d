package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"

	"github.com/vchproject/vch/bench/procmem"
	"github.com/vchproject/vch/bench/report"
)

// Target is one daemon under test, reached through the same docker CLI and
// the same API client library as the other.
type Target struct {
	Name report.Target
	// Env is what the docker CLI needs to reach the daemon (DOCKER_HOST,
	// TLS settings, a private DOCKER_CONFIG).
	Env []string
	API *client.Client
	// DaemonPid is the daemon's main process: it and its descendants,
	// less container processes, are the daemon's memory.
	DaemonPid func() (int, error)
	// StateDir holds the daemon's state; vch keeps boot steps there.
	StateDir string
	// Version is the daemon's own version string.
	Version string
}

// CLI runs the docker CLI against the target and returns its stdout.
func (t *Target) CLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), t.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: docker %s: %w: %s", t.Name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// newAPI builds an API client from the same variables the CLI reads.
func newAPI(env []string) (*client.Client, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	opts := []client.Opt{client.WithHost(vars["DOCKER_HOST"]), client.WithAPIVersionNegotiation()}
	if vars["DOCKER_TLS_VERIFY"] != "" || vars["DOCKER_CERT_PATH"] != "" {
		dir := vars["DOCKER_CERT_PATH"]
		opts = append(opts, client.WithTLSClientConfig(filepath.Join(dir, "ca.pem"),
			filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("harness: api client: %w", err)
	}
	return c, nil
}

// ContainerProcs returns the host processes that make up a running
// container whose State.Pid is pid: for vch the QEMU process and anything
// below it; for dockerd the container's processes and, when its parent is a
// containerd shim, the shim too.
func ContainerProcs(table []procmem.Proc, pid int) []int {
	if pid <= 0 {
		return nil
	}
	parent := procmem.Parent(table, pid)
	if strings.HasPrefix(parent.Comm, "containerd-shim") {
		return procmem.Descendants(table, parent.Pid)
	}
	return procmem.Descendants(table, pid)
}
