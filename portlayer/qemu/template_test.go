package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/compute/computetest"
)

// writeTemplate makes a template directory whose manifest matches state.
func writeTemplate(t *testing.T, dir, key string, shape templateShape, state []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tplState), state, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(dir, tplRAM), 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, tplRAM))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(shape.MemoryMB << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sum, size, err := hashFile(filepath.Join(dir, tplState))
	if err != nil {
		t.Fatal(err)
	}
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(kernel, fakeBzImage(3, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	stubs, err := writeStubs(dir, kernel)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(templateManifest{Format: templateFormat, Key: key, StateSHA256: sum, StateSize: size, RAMSize: shape.MemoryMB << 20, Stubs: stubs})
	if err := os.WriteFile(filepath.Join(dir, tplManifest), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTemplateValidation: a template is used only if its manifest, RAM
// file and device state agree; anything else is removed (to be rebuilt).
func TestTemplateValidation(t *testing.T) {
	shape := templateShape{CPUs: 1, MemoryMB: 2}
	for _, tc := range []struct {
		name  string
		spoil func(dir string) error
		ok    bool
	}{
		{"valid", func(string) error { return nil }, true},
		{"corrupt state", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, tplState), []byte("not the saved state"), 0o600)
		}, false},
		{"truncated RAM", func(dir string) error { return os.Truncate(filepath.Join(dir, tplRAM), 1<<20) }, false},
		{"no manifest", func(dir string) error { return os.Remove(filepath.Join(dir, tplManifest)) }, false},
		{"no stub kernel", func(dir string) error { return os.Remove(filepath.Join(dir, tplKernel)) }, false},
		{"altered stub initrd", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, tplInitrd), []byte("not the stub"), 0o644)
		}, false},
		{"stale format", func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, tplManifest))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, tplManifest), []byte(strings.Replace(string(b), templateFormat, "vch-template-0", 1)), 0o600)
		}, false},
		{"other key", func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, tplManifest))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, tplManifest), []byte(strings.Replace(string(b), "k1", "k2", 1)), 0o600)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Provider{log: zaptest.NewLogger(t)}
			tp := &templates{p: p, dir: t.TempDir()}
			dir := filepath.Join(tp.dir, "k1")
			writeTemplate(t, dir, "k1", shape, []byte("device state"))
			if err := tc.spoil(dir); err != nil {
				t.Fatal(err)
			}
			got := tp.usable("k1", shape)
			if tc.ok != (got == dir) {
				t.Fatalf("usable = %q, want ok=%v", got, tc.ok)
			}
			if _, err := os.Stat(dir); tc.ok != (err == nil) {
				t.Fatalf("template dir kept=%v, want %v", err == nil, tc.ok)
			}
		})
	}
}

// TestTemplateKey: the key is stable, and differs by shape (NIC slots
// included) and by the launch options.
func TestTemplateKey(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"vmlinuz", "initrd"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Provider{log: zaptest.NewLogger(t), cfg: Config{QEMU: "sh", Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd"), Accel: AccelTCG, TBSizeMB: 16}}
	p.tscOnce.Do(func() { p.tsc = 1000000 })
	tp := newTemplates(p)
	ctx := context.Background()
	key := func(s templateShape) string {
		t.Helper()
		k, err := tp.key(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	base := templateShape{CPUs: 1, MemoryMB: 256}
	nics := templateShape{CPUs: 1, MemoryMB: 256, NICs: compute.MaxNICs}
	if first, again := key(base), key(base); first != again {
		t.Fatal("the key of one shape changed between calls")
	}
	if key(base) == key(nics) || key(base) == key(templateShape{CPUs: 2, MemoryMB: 256}) {
		t.Fatal("shapes with other NIC slots or vCPUs share a key")
	}
	before := key(nics)
	p.cfg.TBSizeMB = 32
	if key(nics) == before {
		t.Fatal("another tb-size kept the key")
	}
}

func TestQEMUArgsTemplate(t *testing.T) {
	base := launchSpec{Accel: AccelTCG, MemoryMB: 256, CPUs: 1, Console: "console.log", GuestMemory: GuestMemoryMemfd}
	tpl := base
	tpl.Template = templateLaunch{RAMFile: "ram", RAMShared: true, SerialSock: "serial.sock"}
	joined := strings.Join(qemuArgs(tpl), " ")
	for _, want := range []string{
		"-M microvm,memory-backend=mem",
		"-serial chardev:ser",
		"-object memory-backend-file,id=mem,size=256M,mem-path=ram,share=on",
		"-chardev socket,id=ser,path=serial.sock,server=on,wait=off,logfile=console.log,logappend=on",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("template args lack %q: %s", want, joined)
		}
	}
	if strings.Contains(joined, "memfd") || strings.Contains(joined, "-incoming") {
		t.Errorf("template args: %s", joined)
	}
	cl := base
	cl.TBSizeMB, cl.Kernel, cl.Initrd = 16, "/boot/vmlinuz", "/boot/initrd"
	(&clone{dir: "/t/k", tbSizeMB: 8}).edit(&cl)
	joined = strings.Join(qemuArgs(cl), " ")
	for _, want := range []string{
		"-object memory-backend-file,id=mem,size=256M,mem-path=/t/k/ram,share=off",
		"-incoming defer",
		"vch.template",
		"-accel tcg,tb-size=8 ",
		"-kernel /t/k/" + tplKernel + " -initrd /t/k/" + tplInitrd + " ",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("clone args lack %q: %s", want, joined)
		}
	}
	// A clone with shares: a shared copy of the RAM, the template's share
	// slots, and no vhost-user-fs device on the command line (they are
	// hot-added after the restore).
	cl = base
	cl.Shares = []fsShare{{Dir: "/h", Tag: "vch-fs-0", Socket: "vfs-0.sock"}}
	c := &clone{dir: "/t/k", ramCopy: "/dev/shm/vch-ram-x"}
	c.edit(&cl)
	joined = strings.Join(qemuArgs(cl), " ")
	for _, want := range []string{
		"-M microvm,memory-backend=mem,pcie=on",
		"-object memory-backend-file,id=mem,size=256M,mem-path=/dev/shm/vch-ram-x,share=on",
		"-device pcie-root-port,id=vch-rp0,chassis=1",
		"-device pcie-root-port,id=vch-rp3,chassis=4",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("clone with shares lacks %q: %s", want, joined)
		}
	}
	if strings.Contains(joined, "vhost-user-fs") || len(c.shares) != 1 {
		t.Errorf("clone with shares: %d to hot-add, args %s", len(c.shares), joined)
	}
}

// TestBootTemplateClones builds a template, starts containers as clones
// of it (each with its own disks and fresh randomness: distinct
// /dev/urandom bytes and boot_ids), then checks that a template whose
// device state QEMU cannot load is discarded and the container
// cold-booted instead.
func TestBootTemplateClones(t *testing.T) {
	p := newRealProvider(t, t.TempDir(), func(c *Config) {
		c.Templates = true
		c.StartTimeout = time.Minute
		if os.Getenv("VCH_TETHER_DEBUG") != "" {
			c.KernelArgs = append(c.KernelArgs, "vch.debug", "loglevel=7")
		}
	})
	ctx := context.Background()
	shape := templateShape{CPUs: p.cfg.CPUs, MemoryMB: p.cfg.MemoryMB}
	dir, err := p.tpl.ensure(ctx, shape)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, fileConsole)); os.Getenv("VCH_TETHER_DEBUG") != "" {
		t.Logf("TEMPLATE CONSOLE\n%s", b)
	}
	var toStarted []time.Duration
	run := func(id string, mounts ...compute.Mount) string {
		t.Helper()
		probe := randomnessProbe + "; echo " + id[:6] + " > /id; cat /id"
		if len(mounts) > 0 {
			// Read the read-only share, write through the other one.
			probe += "; cat /ro/in; echo " + id[:6] + " > /rw/out"
		}
		if err := p.Create(ctx, compute.Spec{ID: id, Image: testImage, Mounts: mounts, Process: compute.Process{Args: []string{"sh", "-c", probe}}}); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(ctx, id); err != nil {
			for _, f := range []string{fileConsole, fileQEMUOut} {
				b, _ := os.ReadFile(filepath.Join(p.cfg.Root, id, f))
				t.Logf("%s:\n%s", f, b)
			}
			t.Fatal(err)
		}
		st, err := p.Wait(ctx, id, compute.WaitNotRunning)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for e := range ch {
			out.Write(e.Data)
		}
		if st.ExitCode != 0 {
			t.Fatalf("%s: %+v, output %q", id[:6], st, out.String())
		}
		if len(st.Boot) > 0 {
			toStarted = append(toStarted, st.StartedAt.Sub(st.Boot[0].At))
			var steps []string
			for i := 1; i < len(st.Boot); i++ {
				steps = append(steps, fmt.Sprintf("%s +%v", st.Boot[i].Name, st.Boot[i].At.Sub(st.Boot[i-1].At).Round(time.Millisecond)))
			}
			t.Logf("%s boot steps: %s", id[:6], strings.Join(steps, ", "))
			if os.Getenv("VCH_TETHER_DEBUG") != "" {
				b, _ := os.ReadFile(filepath.Join(p.cfg.Root, id, fileConsole))
				t.Logf("%s console:\n%s", id[:6], b)
			}
		}
		return out.String()
	}
	const n = 3
	seen := map[string]bool{}
	var calls []time.Duration
	for i := 0; i < n; i++ {
		id := strings.Repeat(fmt.Sprintf("c%d", i), 32)
		called := time.Now()
		lines := strings.Fields(run(id))
		calls = append(calls, time.Since(called))
		if len(lines) != 3 || len(lines[0]) != 64 || len(lines[1]) != 36 || lines[2] != id[:6] {
			t.Fatalf("clone %d: output %q", i, lines)
		}
		for _, v := range lines[:2] {
			if seen[v] {
				t.Fatalf("clone %d repeats %s", i, v)
			}
			seen[v] = true
		}
	}
	if got := p.tpl.restored.Load(); got != n {
		t.Fatalf("%d of %d starts were restored from the template", got, n)
	}
	t.Logf("clones (accelerator %s), medians over %d: create+start+wait+logs of the probe %v; launch->process-started %v",
		p.accelerator(ctx), n, median(calls), median(toStarted))

	// Shares (virtiofs: bind mounts, shared volumes) in a clone: hot-added
	// into the template's PCIe slots, the RAM a shared copy.
	host := t.TempDir()
	if err := os.MkdirAll(filepath.Join(host, "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "ro", "in"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mounts := []compute.Mount{{Source: filepath.Join(host, "ro"), Path: "/ro", ReadOnly: true}, {Source: host, Path: "/rw"}}
	id := strings.Repeat("d0", 32)
	if lines := strings.Fields(run(id, mounts...)); len(lines) != 6 || strings.Join(lines[2:], " ") != "d0d0d0 from the host" || seen[lines[0]] || seen[lines[1]] {
		t.Fatalf("clone with shares: output %q", lines)
	}
	if got := p.tpl.restored.Load(); got != n+1 {
		t.Fatalf("the start with shares was not restored from the template (%d restored, want %d)", got, n+1)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(b) != "d0d0d0\n" {
		t.Fatalf("write through the clone's share: %q, %v", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(p.tpl.shm, "*")); len(left) > 0 {
		t.Fatalf("RAM copies left on tmpfs: %v", left)
	}

	// A device state QEMU rejects, with a manifest that matches it: the
	// start cold-boots, with fresh virtiofsds for its shares (the failed
	// clone's QEMU had connected to the first ones).
	key := filepath.Base(dir)
	writeTemplate(t, dir, key, shape, []byte("QEVM garbage"))
	if out := run(strings.Repeat("f0", 32), mounts...); !strings.Contains(out, "f0f0f0\nfrom the host") {
		t.Fatalf("cold boot after a failed restore: output %q", out)
	}
	if got := p.tpl.restored.Load(); got != n+1 {
		t.Fatalf("restored count %d after a failed restore, want %d", got, n+1)
	}
}

// copyRAM copies data extents and keeps holes.
func TestCopyRAM(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "ram"), filepath.Join(dir, "copy")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 3<<20 + 17, size - 5} {
		if _, err := f.WriteAt([]byte("data!"), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := copyRAM(src, dst); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, err := os.ReadFile(dst)
	if err != nil || len(b) != size || string(a) != string(b) {
		t.Fatalf("copy differs (len %d, %v)", len(b), err)
	}
	if err := copyRAM(src, dst); err == nil {
		t.Fatal("copyRAM overwrote an existing file")
	}
	if err := copyRAM(filepath.Join(dir, "none"), filepath.Join(dir, "c2")); err == nil {
		t.Fatal("copyRAM of a missing file succeeded")
	}
}

// TestConformanceTemplates runs the compute suite with templates on; the
// template is built once and shared by every subtest's provider, so
// every start is a clone (volumes included: shares are hot-added).
func TestConformanceTemplates(t *testing.T) {
	tplDir := t.TempDir()
	edit := func(c *Config) { c.Templates, c.TemplateDir = true, tplDir }
	p := newRealProvider(t, t.TempDir(), edit)
	if _, err := p.tpl.ensure(context.Background(), templateShape{CPUs: p.cfg.CPUs, MemoryMB: p.cfg.MemoryMB}); err != nil {
		t.Fatal(err)
	}
	var restored []*templates
	computetest.Run(t, computetest.RootPerTest(func(t *testing.T, root string) compute.Provider {
		p := newRealProvider(t, root, edit)
		restored = append(restored, p.tpl)
		return p
	}), testImage, computetest.WithVolume(suiteVolume))
	var n int64
	for _, tp := range restored {
		n += tp.restored.Load()
	}
	t.Logf("%d starts restored from the template", n)
	if n == 0 {
		t.Fatal("no start was restored from the template")
	}
}
