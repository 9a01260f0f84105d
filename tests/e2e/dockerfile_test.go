package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tests/fixture"
)

// TestDockerfileBuildsBundle: the root Dockerfile, built by Debian's dockerd
// (the classic builder, no network in the build containers) from a Go
// base image made of this host's toolchain and pulled from a local
// registry, yields a vic-bundle.tar.gz with make bundle's file list whose
// vic-machine-linux runs. dockerd and the registry run in a network
// namespace of their own.
func TestDockerfileBuildsBundle(t *testing.T) {
	start := time.Now()
	dir, err := os.MkdirTemp("", "vchdf-") // short: dockerd's sockets live below it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})

	// What make bundle packs.
	want := tarList(t, bundleWithScript(t, filepath.Join(dir, "make-bundle.tar.gz")))

	// The offline inputs of the build: vendored modules and the kernel.
	if out, err := exec.Command(filepath.Join(env.repo, "scripts", "docker-context.sh")).CombinedOutput(); err != nil {
		t.Fatalf("docker-context.sh: %v\n%s", err, out)
	} else {
		t.Logf("%s", strings.TrimSpace(string(out)))
	}

	ns, err := fixture.NewNetns("vchdf")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	reg, err := fixture.RunRegistryWith(filepath.Join(dir, "registry"), fixture.RegistryOptions{Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	d, err := fixture.StartDockerd(ns, filepath.Join(dir, "dockerd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	environ := append(os.Environ(), d.Env...)
	run := func(timeout time.Duration, stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "docker", args...)
		cmd.Env = environ
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if stdin != "" {
			f, err := os.Open(stdin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdin = f
		}
		if err := cmd.Run(); err != nil {
			log, _ := os.ReadFile(d.Log)
			t.Fatalf("docker %s: %v\n%s\ndockerd log:\n%s", strings.Join(args, " "), err, out.String(), log)
		}
		return out.String()
	}

	// The Go base image: the host's toolchain, busybox, bash and make,
	// imported, pushed to the registry and dropped again, so that the
	// build has to pull it.
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	rootfs := filepath.Join(dir, "go-rootfs.tar")
	f, err := os.Create(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixture.WriteGoRootfs(f, strings.TrimSpace(string(goroot))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	goImage := reg.Addr + "/go:" + strings.TrimPrefix(runtime.Version(), "go")
	run(5*time.Minute, rootfs, "import", "--change", "ENV PATH="+fixture.GoImagePath, "-", goImage)
	os.Remove(rootfs)
	run(5*time.Minute, "", "push", goImage)
	run(time.Minute, "", "rmi", goImage)
	t.Logf("Go base image %s ready after %s", goImage, time.Since(start).Round(time.Second))

	version := "dev"
	if out, err := exec.Command("git", "-C", env.repo, "describe", "--tags", "--always", "--dirty").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	buildStart := time.Now()
	out := run(20*time.Minute, "", "build", "--network", "none", "--build-arg", "GO_IMAGE="+goImage,
		"--build-arg", "VERSION="+version, "--build-arg", "COMMIT=e2e", "-t", "vic-bundle:e2e", env.repo)
	t.Logf("docker build took %s", time.Since(buildStart).Round(time.Second))
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Sending build context") {
			t.Log(strings.TrimSpace(line))
		}
	}
	if !strings.Contains(out, "Successfully tagged vic-bundle:e2e") {
		t.Fatalf("docker build did not tag the image:\n%s", out)
	}
	// The base image came back from the registry.
	run(time.Minute, "", "image", "inspect", goImage)

	run(time.Minute, "", "create", "--name", "vic-bundle-e2e", "vic-bundle:e2e", "/vic-bundle.tar.gz")
	outDir := filepath.Join(dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(2*time.Minute, "", "cp", "vic-bundle-e2e:/vic-bundle.tar.gz", outDir)
	run(time.Minute, "", "rm", "vic-bundle-e2e")
	built := filepath.Join(outDir, "vic-bundle.tar.gz")
	got := tarList(t, built)
	if !slices.Equal(got, want) {
		t.Fatalf("the Dockerfile's bundle lists\n%s\nmake bundle's lists\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b, err := exec.Command("tar", "-C", outDir, "-xzf", built).CombinedOutput(); err != nil {
		t.Fatalf("unpack: %v\n%s", err, b)
	}
	v, err := exec.Command(filepath.Join(outDir, "vic", "vic-machine-linux"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), version) {
		t.Fatalf("vic-machine-linux version: %v\n%s (want %s)", err, v, version)
	}
	readme, err := os.ReadFile(filepath.Join(outDir, "vic", "README"))
	if err != nil || !strings.Contains(string(readme), strings.TrimSpace(string(v))) {
		t.Fatalf("the bundle's README does not name %q: %v\n%s", v, err, readme)
	}
	t.Logf("TestDockerfileBuildsBundle: %d entries, %s in all", len(got), time.Since(start).Round(time.Second))
}

// bundleWithScript runs scripts/bundle.sh (what make bundle runs after
// make build) into out.
func bundleWithScript(t *testing.T, out string) string {
	t.Helper()
	if b, err := exec.Command(filepath.Join(env.repo, "scripts", "bundle.sh"), out).CombinedOutput(); err != nil {
		t.Fatalf("bundle: %v\n%s", err, b)
	}
	return out
}

// tarList is the sorted list of a tar.gz's entries.
func tarList(t *testing.T, tarball string) []string {
	t.Helper()
	out, err := exec.Command("tar", "-tzf", tarball).Output()
	if err != nil {
		t.Fatalf("tar -tzf %s: %v", tarball, err)
	}
	list := strings.Fields(string(out))
	slices.Sort(list)
	return list
}
