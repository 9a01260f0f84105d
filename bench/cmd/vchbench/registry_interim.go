package main

// INTERIM: until tests/fixture lands, the registry is started here and
// seeded with a busybox image through the private dockerd. Replaced by the
// fixture package.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/measure"
	"github.com/vchproject/vch/bench/report"
)

const registryAddr = "127.0.0.1:15000"

func prepareImages(ctx context.Context, log *zap.Logger, stack *harness.Stack, o options, targets []*harness.Target) (measure.Images, error) {
	dir := filepath.Join(o.work, "registry")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return measure.Images{}, err
	}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), registryAddr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644); err != nil {
		return measure.Images{}, err
	}
	d, err := harness.StartDaemon(log, "docker-registry", filepath.Join(dir, "registry.log"), "serve", filepath.Join(dir, "config.yml"))
	if err != nil {
		return measure.Images{}, err
	}
	stack.Push("stop registry", func(context.Context) error { return d.Stop(10 * time.Second) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + registryAddr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return measure.Images{}, fmt.Errorf("registry not up: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var dockerd *harness.Target
	for _, t := range targets {
		if t.Name == report.Dockerd {
			dockerd = t
		}
	}
	if dockerd == nil {
		return measure.Images{}, fmt.Errorf("interim seeding needs dockerd")
	}
	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		return measure.Images{}, err
	}
	if out, err := exec.Command("cp", "/bin/busybox", filepath.Join(root, "bin", "busybox")).CombinedOutput(); err != nil {
		return measure.Images{}, fmt.Errorf("%s: %w", out, err)
	}
	for _, a := range []string{"sh", "true", "sleep", "ls", "cat"} {
		_ = os.Symlink("busybox", filepath.Join(root, "bin", a))
	}
	ref := registryAddr + "/bench/busybox:latest"
	imp := exec.CommandContext(ctx, "sh", "-c", "tar -C "+root+" -c . | docker import - "+ref)
	imp.Env = append(os.Environ(), dockerd.Env...)
	if out, err := imp.CombinedOutput(); err != nil {
		return measure.Images{}, fmt.Errorf("import: %s: %w", out, err)
	}
	if _, err := dockerd.CLI(ctx, "push", ref); err != nil {
		return measure.Images{}, err
	}
	big, err := interimBig(ctx, dockerd, dir, ref)
	if err != nil {
		return measure.Images{}, err
	}
	return measure.Images{Busybox: ref, Big: big}, nil
}

// interimBig builds a ~100 MB image of five 20 MB layers of random data on
// top of busybox with the private dockerd and pushes it, then removes it
// from dockerd so that its pull is a real one.
func interimBig(ctx context.Context, dockerd *harness.Target, dir, base string) (string, error) {
	ctxDir := filepath.Join(dir, "big")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return "", err
	}
	dockerfile := "FROM " + base + "\n"
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("blob%d", i)
		out, err := exec.CommandContext(ctx, "dd", "if=/dev/urandom", "of="+filepath.Join(ctxDir, name), "bs=1M", "count=20").CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("dd: %s: %w", out, err)
		}
		dockerfile += fmt.Sprintf("COPY %s /data/%s\n", name, name)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	ref := registryAddr + "/bench/big:latest"
	if _, err := dockerd.CLI(ctx, "build", "-q", "-t", ref, ctxDir); err != nil {
		return "", err
	}
	if _, err := dockerd.CLI(ctx, "push", ref); err != nil {
		return "", err
	}
	if _, err := dockerd.CLI(ctx, "rmi", ref); err != nil {
		return "", err
	}
	return ref, nil
}
