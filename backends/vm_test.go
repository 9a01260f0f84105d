package backends_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/pkg/stdcopy"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/backends"
	"github.com/vchproject/vch/backends/internal/fakestore"
	containerrouter "github.com/vchproject/vch/daemon/router/container"
	imagerouter "github.com/vchproject/vch/daemon/router/image"
	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/qemu"
	"github.com/vchproject/vch/portlayer/qemu/initramfs"
	"github.com/vchproject/vch/portlayer/qemu/kernel"
	"github.com/vchproject/vch/portlayer/storage/ext4"
)

// vmAssets builds what a real boot needs: the guest kernel, an initramfs
// with a freshly built tether, and a busybox root file system disk. It
// fails, never skips: the project's machines have root, QEMU, mkfs.ext4,
// busybox-static and Debian's kernel package.
func vmAssets(t *testing.T) (vmlinuz, initrd, rootfs string) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(strings.TrimSpace(string(out)))
	kdir := kernel.DefaultDir()
	k, err := kernel.Find(kdir)
	if errdefs.IsNotFound(err) {
		if out, err := exec.Command("sh", filepath.Join(repo, "scripts/fetch-kernel.sh"), kdir).CombinedOutput(); err != nil {
			t.Fatalf("fetch kernel: %v: %s", err, out)
		}
		k, err = kernel.Find(kdir)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tether := filepath.Join(dir, "tether")
	build := exec.Command("go", "build", "-o", tether, "./cmd/tether")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tether: %v: %s", err, out)
	}
	if initrd, err = initramfs.Ensure(dir, tether, kdir); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"bin", "etc", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox-static is needed: %v", err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet != "busybox" {
			if err := os.Symlink("busybox", filepath.Join(tree, "bin", applet)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootfs = filepath.Join(dir, "busybox.ext4")
	if err := ext4.Make(context.Background(), rootfs, 64<<20, tree, ""); err != nil {
		t.Fatal(err)
	}
	return k.Vmlinuz, initrd, rootfs
}

func pullConfig(out io.Writer) imagerouter.PullConfig {
	return imagerouter.PullConfig{Image: "127.0.0.1:5000/busybox", Tag: "latest", Output: out}
}

// TestDockerSemanticsOnVMs drives the docker personality over the QEMU
// provider: every container here is a real VM.
func TestDockerSemanticsOnVMs(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU VMs (about a minute under TCG); run without -short")
	}
	vmlinuz, initrd, rootfs := vmAssets(t)
	ctx := context.Background()

	var cfg dockerspec.DockerOCIImage
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config = dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}}}
	img := fakestore.Image(cfg, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 1<<20)
	store := fakestore.New()
	store.Remote("127.0.0.1:5000/busybox:latest", img)
	store.Disk(img.ID, rootfs)

	pl, err := qemu.New(qemu.Config{
		Root: t.TempDir(), Kernel: vmlinuz, Initrd: initrd, Images: store,
		Logger: zaptest.NewLogger(t), MemoryMB: 256, DiskSize: 256 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	b, err := backends.New(backends.Config{Name: "vmtest", Root: t.TempDir(), Compute: pl, Images: store, Logger: zaptest.NewLogger(t), Runtime: "qemu"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Images().PullImage(ctx, pullConfig(&bytes.Buffer{})); err != nil {
		t.Fatal(err)
	}
	cs := b.Containers()
	create := func(name string, cmd []string, hc *container.HostConfig) string {
		t.Helper()
		r, err := cs.ContainerCreate(ctx, containerrouter.CreateConfig{Name: name, Config: &container.Config{Image: "127.0.0.1:5000/busybox", Cmd: cmd}, HostConfig: hc})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	waitExit := func(name string) int64 {
		t.Helper()
		ch, err := cs.ContainerWait(ctx, name, container.WaitConditionNotRunning)
		if err != nil {
			t.Fatal(err)
		}
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r.StatusCode
	}

	// Output, exit code, logs and ps of a finished container.
	create("outputs", []string{"sh", "-c", "echo hello; echo oops >&2; exit 3"}, nil)
	if err := cs.ContainerStart(ctx, "outputs"); err != nil {
		t.Fatal(err)
	}
	if code := waitExit("outputs"); code != 3 {
		t.Fatalf("exit code %d", code)
	}
	var logs bytes.Buffer
	if err := cs.ContainerLogs(ctx, "outputs", containerrouter.LogsConfig{ShowStdout: true, ShowStderr: true, Tail: -1,
		Streams: func(bool) (io.ReadCloser, io.Writer, error) { return nil, &logs, nil }}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, &logs); err != nil || stdout.String() != "hello\n" || stderr.String() != "oops\n" {
		t.Fatalf("logs %q %q %v", stdout.String(), stderr.String(), err)
	}
	list, err := cs.Containers(ctx, containerrouter.ListConfig{All: true, Filters: filters.NewArgs()})
	if err != nil || len(list) != 1 || !strings.HasPrefix(list[0].Status, "Exited (3) ") || list[0].Command != "sh -c echo hello; echo oops >&2; exit 3" {
		t.Fatalf("ps -a %+v %v", list, err)
	}

	// A missing command: 400, and the container stays "created" with 127.
	create("missing", []string{"nosuchcmd"}, nil)
	err = cs.ContainerStart(ctx, "missing")
	if !errdefs.IsInvalidParameter(err) || !strings.Contains(err.Error(), "nosuchcmd") {
		t.Fatalf("start of a missing command: %v", err)
	}
	t.Logf("missing command: %v", err)
	ins, err := cs.ContainerInspect(ctx, "missing", false)
	if err != nil || ins.State.Status != "created" || ins.State.ExitCode != 127 || ins.State.Error == "" {
		t.Fatalf("after failed start: %+v %v", ins.State, err)
	}

	// docker stop: SIGTERM ends sleep; a second stop is 304.
	create("sleeper", []string{"sleep", "1000"}, nil)
	if err := cs.ContainerStart(ctx, "sleeper"); err != nil {
		t.Fatal(err)
	}
	if err := cs.ContainerStop(ctx, "sleeper", nil, ""); err != nil {
		t.Fatal(err)
	}
	ins, err = cs.ContainerInspect(ctx, "sleeper", false)
	if err != nil || ins.State.Running || ins.State.ExitCode != 143 {
		t.Fatalf("after stop: %+v %v", ins.State, err)
	}
	if err := cs.ContainerStop(ctx, "sleeper", nil, ""); !errdefs.IsNotModified(err) {
		t.Fatalf("second stop: %v", err)
	}

	// docker run -i: stdin reaches the process, its EOF ends it.
	r, err := cs.ContainerCreate(ctx, containerrouter.CreateConfig{Name: "cat", Config: &container.Config{
		Image: "127.0.0.1:5000/busybox", Cmd: []string{"cat"}, OpenStdin: true, StdinOnce: true, AttachStdin: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.ContainerStart(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	var attached bytes.Buffer
	err = cs.ContainerAttach(ctx, "cat", containerrouter.AttachConfig{UseStdin: true, UseStdout: true, UseStderr: true, Stream: true,
		Streams: func(bool) (io.ReadCloser, io.Writer, error) {
			return io.NopCloser(strings.NewReader("ping\n")), &attached, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if _, err := stdcopy.StdCopy(&stdout, io.Discard, &attached); err != nil || stdout.String() != "ping\n" {
		t.Fatalf("attach output %q %v", stdout.String(), err)
	}
	if code := waitExit("cat"); code != 0 {
		t.Fatalf("cat exit %d", code)
	}

	// docker run --rm: removed after it exits.
	create("once", []string{"true"}, &container.HostConfig{AutoRemove: true})
	if err := cs.ContainerStart(ctx, "once"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute) // catches a hang only
	for {
		if _, err := cs.ContainerInspect(ctx, "once", false); errdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("--rm container never removed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
