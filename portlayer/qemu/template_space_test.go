package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/portlayer/compute"
)

// smallTmpfs mounts a tmpfs of size bytes on a fresh directory for the
// test's lifetime: a filesystem that cannot hold a template's RAM.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount a %s tmpfs (the test needs root): %v", size, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// A RAM file that does not fit fails at once with ENOSPC, naming the
// size and the directory, and leaves no file behind; one that fits is
// allocated in full.
func TestReserveRAMFile(t *testing.T) {
	dir := smallTmpfs(t, "4m")
	tpl := filepath.Join(dir, "key")
	if err := os.Mkdir(tpl, 0o700); err != nil {
		t.Fatal(err)
	}
	err := reserveRAMFile(filepath.Join(tpl, tplRAM), 16<<20)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("16 MiB on a 4 MiB tmpfs: %v, want ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "cannot allocate 16 MiB in "+dir) || !strings.Contains(msg, "MiB free") {
		t.Errorf("error %q does not say what did not fit where", msg)
	}
	if _, err := os.Stat(filepath.Join(tpl, tplRAM)); !os.IsNotExist(err) {
		t.Errorf("RAM file left behind: %v", err)
	}
	if err := reserveRAMFile(filepath.Join(tpl, tplRAM), 2<<20); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(tpl, tplRAM), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 2<<20 || st.Blocks*512 < 2<<20 {
		t.Errorf("2 MiB RAM file: size %d, %d bytes allocated", st.Size, st.Blocks*512)
	}
}

// TestBootTemplateNoSpace: with the template directory on a filesystem
// too small for the RAM file, the template build fails at once with a
// log line saying so, and containers cold-boot.
func TestBootTemplateNoSpace(t *testing.T) {
	tplDir := smallTmpfs(t, "1m")
	core, logs := observer.New(zapcore.WarnLevel)
	p := newRealProvider(t, t.TempDir(), func(c *Config) {
		c.Templates, c.TemplateDir = true, tplDir
		c.Logger = zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	})
	ctx := context.Background()
	shape := templateShape{CPUs: p.cfg.CPUs, MemoryMB: p.cfg.MemoryMB}
	if _, err := p.tpl.ensure(ctx, shape); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("template build on a 1 MiB tmpfs: %v, want ENOSPC", err)
	}
	id := strings.Repeat("e1", 32)
	if err := p.Create(ctx, compute.Spec{ID: id, Image: testImage, Process: compute.Process{Args: []string{"echo", "cold"}}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait(ctx, id, compute.WaitNotRunning)
	if err != nil {
		t.Fatal(err)
	}
	if st.ExitCode != 0 {
		t.Fatalf("cold boot: %+v", st)
	}
	for _, s := range st.Boot {
		if s.Name == StepRestored {
			t.Fatal("a container was restored from a template that cannot exist")
		}
	}
	p.tpl.wg.Wait() // the builds the start and New began
	var failed []string
	for _, e := range logs.FilterMessage("template build failed; containers of this shape cold-boot").All() {
		if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, "no space left on device") {
			failed = append(failed, err)
		}
	}
	if len(failed) == 0 {
		t.Fatalf("no log line says the template build failed for want of space; warnings: %v", logs.All())
	}
	t.Logf("logged: %s", failed[0])
	left, err := os.ReadDir(tplDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("failed builds left %v in the template directory", left)
	}
}
