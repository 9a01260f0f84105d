package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/tests/fixture"
)

// DockerdConfig places a private Docker Engine.
type DockerdConfig struct {
	Dir string // everything of this dockerd lives below Dir
	// Bip is the address/prefix of its bridge, a private range that only
	// exists inside the benchmark's namespace.
	Bip string
	// ConfigDir is the DOCKER_CONFIG the CLI uses for this target.
	ConfigDir string
	// CgroupParent is the cgroup all its containers go under, so that a
	// backstop can find and end them even if dockerd and its shims died.
	CgroupParent string
}

// StartDockerd starts dockerd (with its own managed containerd) with its
// own data root, exec root, pidfile, socket and bridge (the flags of
// fixture.DockerdArgs, which the tests' dockerd uses too), and pushes its
// teardown. dockerd gets --iptables=false: both daemons share one
// namespace, and dockerd's FORWARD policy DROP would otherwise cut vch's
// forwarded traffic; published ports to 127.0.0.1 go through docker-proxy
// either way.
func StartDockerd(ctx context.Context, log *zap.Logger, stack *Stack, cfg DockerdConfig) (*Target, error) {
	for _, d := range []string{cfg.Dir, cfg.ConfigDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("harness: %w", err)
		}
	}
	stack.Push("remove dockerd dirs", func(context.Context) error { return removeTree(cfg.Dir) })
	stack.Push("remove dockerd cgroup parent", func(context.Context) error { return removeCgroups(cgroupRoot, cfg.CgroupParent) })
	sock := filepath.Join(cfg.Dir, "docker.sock")
	d, err := StartDaemon(log, "dockerd", filepath.Join(cfg.Dir, "dockerd.log"),
		fixture.DockerdArgs(cfg.Dir, cfg.Bip, cfg.CgroupParent)...)
	if err != nil {
		return nil, err
	}
	stack.Push("stop dockerd", func(context.Context) error { return d.Stop(30 * time.Second) })
	env := []string{"DOCKER_HOST=unix://" + sock, "DOCKER_CONFIG=" + cfg.ConfigDir,
		"DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_CONTEXT="}
	api, err := newAPI(env)
	if err != nil {
		return nil, err
	}
	stack.Push("close dockerd client", func(context.Context) error { return api.Close() })
	if err := poll(ctx, d, 60*time.Second, func(ctx context.Context) error {
		_, err := api.Ping(ctx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("harness: dockerd: %w", err)
	}
	t := &Target{Name: report.Dockerd, Env: env, API: api, StateDir: cfg.Dir,
		DaemonPid: func() (int, error) { return d.Pid(), nil }}
	if v, err := api.ServerVersion(ctx); err == nil {
		t.Version = v.Version
	}
	return t, nil
}
