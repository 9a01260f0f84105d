package qemu

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/qemu/initramfs"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// testImage is the image ID the busybox root file system is served as.
const testImage = "sha256:b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"

// images is a storage.RootFS test double serving prebuilt disks.
type images map[string]string

func (m images) RootFS(ctx context.Context, id string) (string, error) {
	if p, ok := m[id]; ok {
		return p, nil
	}
	return "", fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
}

// vmEnv is what a real boot needs: kernel, initramfs with a freshly built
// tether, and a busybox root file system disk.
type vmEnv struct {
	kernel, initrd, rootfs string
}

var (
	envOnce  sync.Once
	envVal   vmEnv
	envErr   error
	envCache string // buildEnv's directory, removed by TestMain
)

// TestMain removes the directory buildEnv made (tether, initramfs,
// busybox disk) once the tests are done with it.
func TestMain(m *testing.M) {
	code := m.Run()
	if envCache != "" {
		if err := os.RemoveAll(envCache); err != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", envCache, err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

// realVM prepares (once per test binary) the kernel, the tether initramfs
// and the busybox image. It fails the test, never skips it: these tests
// need root, QEMU, mkfs.ext4, busybox-static and Debian's kernel package,
// all of which this project's machines have.
func realVM(t *testing.T) vmEnv {
	t.Helper()
	envOnce.Do(func() { envVal, envErr = buildEnv() })
	if envErr != nil {
		t.Fatalf("real VM environment: %v", envErr)
	}
	return envVal
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

func buildEnv() (vmEnv, error) {
	var e vmEnv
	root, err := repoRoot()
	if err != nil {
		return e, err
	}
	kdir := kernel.DefaultDir()
	k, err := kernel.Find(kdir)
	if errdefs.IsNotFound(err) {
		cmd := exec.Command("sh", filepath.Join(root, "scripts/fetch-kernel.sh"), kdir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return e, fmt.Errorf("fetch kernel: %v: %s", err, out)
		}
		k, err = kernel.Find(kdir)
	}
	if err != nil {
		return e, err
	}
	e.kernel = k.Vmlinuz

	cache, err := os.MkdirTemp("", "vch-qemu-test-")
	if err != nil {
		return e, err
	}
	envCache = cache
	tether := filepath.Join(cache, "tether")
	build := exec.Command("go", "build", "-o", tether, "./cmd/tether")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return e, fmt.Errorf("build tether: %v: %s", err, out)
	}
	if e.initrd, err = initramfs.Ensure(cache, tether, kdir); err != nil {
		return e, err
	}

	tree := filepath.Join(cache, "tree")
	for _, d := range []string{"bin", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return e, err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return e, fmt.Errorf("busybox-static is needed: %w", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return e, err
	}
	if err := os.WriteFile(filepath.Join(tree, "bin/busybox"), data, 0o755); err != nil {
		return e, err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return e, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(tree, "bin", applet)); err != nil {
			return e, err
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return e, err
	}
	e.rootfs = filepath.Join(cache, "busybox.ext4")
	if err := ext4.Make(context.Background(), e.rootfs, 64<<20, tree, ""); err != nil {
		return e, err
	}
	return e, nil
}

// newRealProvider opens a provider over root booting real VMs.
func newRealProvider(t *testing.T, root string, edits ...func(*Config)) *Provider {
	t.Helper()
	e := realVM(t)
	cfg := Config{
		Root:     root,
		Kernel:   e.kernel,
		Initrd:   e.initrd,
		Images:   images{testImage: e.rootfs},
		Volumes:  suiteVolumes(t, root),
		Logger:   zaptest.NewLogger(t),
		MemoryMB: 256,
		DiskSize: 256 << 20,
		Debug:    os.Getenv("VCH_TETHER_DEBUG") != "",
	}
	for _, e := range edits {
		e(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killAll(t, p) })
	return p
}

// killAll powers off every VM of p (they would outlive the test) and
// detaches from p.
func killAll(t *testing.T, p *Provider) {
	ctx := context.Background()
	cs, _ := p.List(ctx)
	for _, c := range cs {
		if c.Status.State == compute.StateRunning {
			if err := p.Kill(ctx, c.Spec.ID); err != nil && !errdefs.IsConflict(err) {
				t.Errorf("cleanup kill %s: %v", c.Spec.ID, err)
			}
		}
	}
	p.Close()
}
