package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// Templates (Config.Templates; vic-machine turns them on by default).
//
// A template is one VM booted up to the tether's pause point, with its
// RAM in a file mapped share=on, then saved with x-ignore-shared: the
// device state goes to a small file (exec: URI; QEMU 7.2 has no file:),
// the RAM stays in the RAM file. Before the pause the tether has turned
// driver autoprobe off on the platform (and pci) bus and loaded every
// module, so the virtio code is loaded but no transport device is bound:
// no virtio device has been reset or probed. A clone maps that file
// share=off (private copy-on-write), loads the device state with
// -incoming defer + migrate-incoming, and is released with a "go" line on
// its serial console. The tether then turns autoprobe back on and offers
// the unbound devices to the drivers, which reset and probe the clone's
// own disks, ports and NICs (a NIC's MAC comes from the clone's command
// line at that reset); it reads the clone's config (with fresh entropy,
// which it credits before anything reads the RNG) and sets the clock from
// the go line.
//
// The device list must be the same at save and restore, so a template has
// fixed slots: image, writable layer and config disks (placeholder files
// in the template), the virtio-serial ports and, for containers on a
// network, compute.MaxNICs NIC slots (the shape says how many: 0 or all).
// Every template also has templateShareSlots empty PCIe root ports
// (microvm with pcie=on). A clone with virtiofs shares (shared volumes,
// bind mounts) hot-adds them there after the restore: QEMU 7.2 refuses
// to load a device state while a vhost-user-fs device exists (it cannot
// be migrated) and microvm's virtio-mmio has no hotplug, so they cannot
// be on the command line. virtiofsd maps guest RAM, which a private
// mapping of the template's file would hide from it, so such a clone maps
// a copy of the RAM file on tmpfs share=on (copyRAM) and shares no pages
// with its template. A container with volume disks (old unshared
// volumes) or more shares than slots is cold-booted; another shape is
// cold-booted the first time, while its template is built.
//
// Files: Root/templates/<key>/{ram,state,manifest.json,...}. The key
// hashes the template format, the kernel, the initramfs, the QEMU binary,
// the accelerator and the VM shape, so a change of any of them makes a
// new template. The manifest records the state file's hash and size: a
// template that does not match is removed and rebuilt, and a clone that
// fails to restore is killed, its template removed, and the container
// cold-booted.

// StepRestored is the boot step (in Status.Boot, after "launch") at which
// a clone's device state is loaded and it runs.
const StepRestored = "restored"

// templateFormat changes whenever the template layout or device list does.
// Format 4: clones boot QEMU on stub kernel and initrd files kept with
// the template (stubKernel).
// Format 5: PCIe root ports for shares (templateShareSlots).
const templateFormat = "vch-template-5"

// templateShareSlots is the number of virtiofs shares a clone can take
// (PCIe root ports in every template).
const templateShareSlots = 4

// shareSlotBus is the QEMU id of the i-th share slot's root port.
func shareSlotBus(i int) string { return fmt.Sprintf("vch-rp%d", i) }

// templateLaunch is the part of a QEMU command line that differs for
// templates and clones.
type templateLaunch struct {
	RAMFile    string // guest RAM on this file (memory-backend-file)
	RAMShared  bool   // share=on (the template) or off (a clone)
	SerialSock string // serial console on this unix socket, logged to the console file
	Incoming   bool   // -incoming defer
}

// serialArg is -serial's value: the console file, or the template socket.
func serialArg(s launchSpec) string {
	if s.Template.SerialSock != "" {
		return "chardev:ser"
	}
	return "file:" + s.Console
}

func (t templateLaunch) args(console string) []string {
	var a []string
	if t.SerialSock != "" {
		a = append(a, "-chardev", "socket,id=ser,path="+qemuEscape(t.SerialSock)+
			",server=on,wait=off,logfile="+qemuEscape(console)+",logappend=on")
	}
	if t.Incoming {
		a = append(a, "-incoming", "defer")
	}
	return a
}

// templateShape is what a template fixes besides its boot files.
type templateShape struct {
	CPUs     int
	MemoryMB int64
	// NICs is the number of virtio-net slots: 0 (--network none) or
	// compute.MaxNICs (the NICs plus the spares).
	NICs int
}

// templateManifest is Root/templates/<key>/manifest.json.
type templateManifest struct {
	Format      string `json:"format"`
	Key         string `json:"key"`
	StateSHA256 string `json:"stateSHA256"`
	StateSize   int64  `json:"stateSize"`
	RAMSize     int64  `json:"ramSize"`
	// Stubs are the sha256 of the clones' stub boot files, by name.
	Stubs   map[string]string `json:"stubs"`
	Created time.Time         `json:"created"`
}

// Template file names.
const (
	tplRAM      = "ram"
	tplState    = "state"
	tplManifest = "manifest.json"
	tplSerial   = "serial.sock"
	tplKernel   = "kernel.stub"
	tplInitrd   = "initrd.stub"
)

// templates builds and hands out templates of one provider.
type templates struct {
	p   *Provider
	dir string
	shm string // tmpfs for the RAM copies of clones with shares

	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup // background builds

	restored atomic.Int64 // clones restored (tests read it)

	mu       sync.Mutex
	building map[string]chan struct{} // key -> closed when the build ends
	hashes   map[string]string        // file path -> content hash
}

func newTemplates(p *Provider) *templates {
	dir := p.cfg.TemplateDir
	if dir == "" {
		dir = filepath.Join(p.cfg.Root, "templates")
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The RAM copies of clones with shares: unlinked once their QEMU has
	// them mapped; a directory per VCH (named after its root) so that a
	// VCH that died mid-start clears only its own leftovers.
	root := sha256.Sum256([]byte(p.cfg.Root))
	shm := filepath.Join(shmDir, "vch-ram-"+hex.EncodeToString(root[:6]))
	_ = os.RemoveAll(shm)
	return &templates{
		p: p, dir: dir, shm: shm, ctx: ctx, cancel: cancel,
		building: map[string]chan struct{}{}, hashes: map[string]string{},
	}
}

// sweep removes what builds of a vchd that died left: .build-*
// directories (a fallocated RAM file each) and any QEMU still running in
// one that is not this process's child (builds die with their vchd, but
// one started by an older vchd did not). New calls it before any build
// of this provider can start; a live build of another provider in this
// process (tests share a template directory) is left alone.
func (t *templates) sweep() {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".build-") {
			continue
		}
		dir := filepath.Join(t.dir, e.Name())
		if proc := adoptProcess(dir, t.p.cfg.QEMU); proc != nil {
			if parentPid(proc.Pid()) == os.Getpid() {
				continue
			}
			t.p.log.Warn("ending the QEMU of an interrupted template build", zap.String("dir", e.Name()), zap.Int("pid", proc.Pid()))
			_ = proc.Kill()
			proc.Wait()
		}
		t.p.log.Info("removing an interrupted template build", zap.String("dir", e.Name()))
		if err := os.RemoveAll(dir); err != nil {
			t.p.log.Warn("sweep template builds", zap.String("dir", e.Name()), zap.Error(err))
		}
	}
}

// parentPid is pid's parent (0 if unknown).
func parentPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// close stops background builds and waits for them.
func (t *templates) close() {
	t.cancel()
	t.wg.Wait()
	_ = os.Remove(t.shm) // empty unless a start is still going
}

// shmDir is the tmpfs for RAM copies (a variable for tests).
var shmDir = "/dev/shm"

// fileHash hashes a file once per provider.
func (t *templates) fileHash(path string) (string, error) {
	t.mu.Lock()
	h, ok := t.hashes[path]
	t.mu.Unlock()
	if ok {
		return h, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		return "", err
	}
	h = hex.EncodeToString(s.Sum(nil))
	t.mu.Lock()
	t.hashes[path] = h
	t.mu.Unlock()
	return h, nil
}

// key names the template of a shape under the current boot files.
func (t *templates) key(ctx context.Context, shape templateShape) (string, error) {
	p := t.p
	qemuPath, err := exec.LookPath(p.cfg.QEMU)
	if err != nil {
		return "", fmt.Errorf("template key: %w", err)
	}
	s := sha256.New()
	fmt.Fprintf(s, "%s\x00", templateFormat)
	for _, f := range []string{p.cfg.Kernel, p.cfg.Initrd, qemuPath} {
		h, err := t.fileHash(f)
		if err != nil {
			return "", fmt.Errorf("template key: %w", err)
		}
		fmt.Fprintf(s, "%s\x00", h)
	}
	fmt.Fprintf(s, "%s\x00%d\x00%d\x00%d\x00%d\x00%d\x00%s\x00", p.accelerator(ctx), p.cfg.TBSizeMB, shape.CPUs, shape.MemoryMB,
		shape.NICs, p.tscKHz(ctx), strings.Join(p.cfg.KernelArgs, " "))
	// The template's whole command line (devices and their options as this
	// vchd builds them): a change of how VMs are launched makes a new
	// template rather than a failed restore.
	for _, a := range qemuArgs(p.templateBuildSpec(ctx, shape)) {
		fmt.Fprintf(s, "%s\x00", a)
	}
	return hex.EncodeToString(s.Sum(nil))[:24], nil
}

// usable returns the directory of a valid template for key, or "" if
// there is none (a stale or corrupt one is removed).
func (t *templates) usable(key string, shape templateShape) string {
	dir := filepath.Join(t.dir, key)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	bad := func(why string) string {
		t.p.log.Warn("template discarded", zap.String("key", key), zap.String("why", why))
		_ = os.RemoveAll(dir)
		return ""
	}
	// Builds happen in .build-* directories renamed when complete, so a
	// template directory without a manifest is debris.
	b, err := os.ReadFile(filepath.Join(dir, tplManifest))
	if err != nil {
		return bad("manifest: " + err.Error())
	}
	var m templateManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return bad("manifest: " + err.Error())
	}
	if m.Format != templateFormat || m.Key != key {
		return bad("stale manifest")
	}
	if fi, err := os.Stat(filepath.Join(dir, tplRAM)); err != nil || fi.Size() != shape.MemoryMB<<20 || fi.Size() != m.RAMSize {
		return bad("RAM file missing or of the wrong size")
	}
	sum, size, err := hashFile(filepath.Join(dir, tplState))
	if err != nil || sum != m.StateSHA256 || size != m.StateSize {
		return bad("device state missing or corrupt")
	}
	for _, f := range []string{tplKernel, tplInitrd} {
		if sum, _, err := hashFile(filepath.Join(dir, f)); err != nil || sum != m.Stubs[f] {
			return bad(f + " missing or corrupt")
		}
	}
	return dir
}

// discard removes a template whose clone failed.
func (t *templates) discard(dir string) {
	_ = os.RemoveAll(dir)
}

// ensure returns a valid template for shape, building it if needed; a
// concurrent build of the same key is waited for.
func (t *templates) ensure(ctx context.Context, shape templateShape) (string, error) {
	key, err := t.key(ctx, shape)
	if err != nil {
		return "", err
	}
	for {
		if dir := t.usable(key, shape); dir != "" {
			return dir, nil
		}
		t.mu.Lock()
		wait, busy := t.building[key]
		if !busy {
			done := make(chan struct{})
			t.building[key] = done
			t.mu.Unlock()
			err := t.build(ctx, key, shape)
			t.mu.Lock()
			delete(t.building, key)
			close(done)
			t.mu.Unlock()
			if err != nil {
				return "", err
			}
			continue
		}
		t.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// lookup returns a valid template for shape without building one; if
// there is none it starts a build in the background (bounded by the
// provider's start timeout) for the next start.
func (t *templates) lookup(ctx context.Context, shape templateShape) string {
	key, err := t.key(ctx, shape)
	if err != nil {
		t.p.log.Warn("template key", zap.Error(err))
		return ""
	}
	if dir := t.usable(key, shape); dir != "" {
		return dir
	}
	t.mu.Lock()
	_, busy := t.building[key]
	t.mu.Unlock()
	if !busy && t.ctx.Err() == nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			bctx, cancel := context.WithTimeout(t.ctx, t.p.cfg.StartTimeout)
			defer cancel()
			if _, err := t.ensure(bctx, shape); err != nil {
				t.p.log.Warn("template build failed; containers of this shape cold-boot", zap.String("key", key),
					zap.Int64("memoryMB", shape.MemoryMB), zap.Int("cpus", shape.CPUs), zap.Int("nics", shape.NICs), zap.Error(err))
			}
		}()
	}
	return ""
}

// templateMAC is the MAC of a template's NIC slot i (locally
// administered; 76:63:68 is "vch"). No clone keeps it.
func templateMAC(i int) string { return fmt.Sprintf("02:76:63:68:00:%02x", i) }

// prebuild makes sure, in the background, that shape has a template:
// hashing the boot files and building take seconds, so New does not wait.
func (t *templates) prebuild(shape templateShape) {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.lookup(t.ctx, shape)
	}()
}

// build boots a template VM to the tether's pause point and saves it.
func (t *templates) build(ctx context.Context, key string, shape templateShape) (err error) {
	p := t.p
	start := time.Now()
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	tmp, err := os.MkdirTemp(t.dir, ".build-")
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	// The RAM file is allocated in full before QEMU maps it: on a full
	// filesystem (a small tmpfs) QEMU would otherwise die of SIGBUS at
	// whichever guest page first finds no room, mid-boot.
	if err := reserveRAMFile(filepath.Join(tmp, tplRAM), shape.MemoryMB<<20); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	// Placeholder disks for the fixed slots: never probed before the save.
	for _, f := range []string{"image.img", "rw.img", "config.img"} {
		if err := os.WriteFile(filepath.Join(tmp, f), make([]byte, 4096), 0o600); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	ls := p.templateBuildSpec(ctx, shape)
	// NIC slots: taps on no bridge, opened as a container's are (the
	// backend's features, such as the vnet header, are part of the
	// migrated state). A virtio-net device's MAC is migrated too, but the
	// clone's driver resets the device when it probes it, and the reset
	// loads the MAC of the clone's own command line.
	var taps []*os.File
	defer func() {
		for _, f := range taps {
			_ = f.Close()
		}
	}()
	for i := 0; i < shape.NICs; i++ {
		f, err := openTap(tapName("tpl"+key, i), "")
		if err != nil {
			return fmt.Errorf("template: NIC slot %d: %w", i, err)
		}
		taps = append(taps, f)
	}
	proc, err := p.runner.Start(ProcessSpec{Path: p.cfg.QEMU, Args: qemuArgs(ls), Dir: tmp, Output: filepath.Join(tmp, fileQEMUOut), Files: taps,
		DieWithParent: true})
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	defer func() {
		_ = proc.Kill()
		proc.Wait()
	}()
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	if err := awaitConsole(ctx, filepath.Join(tmp, fileConsole), proto.TemplateReady, exited); err != nil {
		return fmt.Errorf("template: %w: %s", err, bootDiagnostics(tmp))
	}
	q, err := dialQMP(ctx, p.dial, filepath.Join(tmp, fileQMP))
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	defer q.Close()
	if err := q.run("stop", nil, nil); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := q.ignoreShared(); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := q.run("migrate-set-parameters", map[string]any{"max-bandwidth": int64(1) << 40}, nil); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := q.run("migrate", map[string]any{"uri": "exec:cat > " + tplState}, nil); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if err := q.awaitMigration(ctx); err != nil {
		return fmt.Errorf("template: save: %w", err)
	}
	_ = q.run("quit", nil, nil)
	select {
	case <-exited:
	case <-ctx.Done():
		return fmt.Errorf("template: QEMU did not quit: %w", ctx.Err())
	}
	sum, size, err := hashFile(filepath.Join(tmp, tplState))
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if size == 0 {
		return errors.New("template: empty device state")
	}
	stubs, err := writeStubs(tmp, p.cfg.Kernel)
	if err != nil {
		return fmt.Errorf("template: %w", err)
	}
	m := templateManifest{Format: templateFormat, Key: key, StateSHA256: sum, StateSize: size,
		RAMSize: shape.MemoryMB << 20, Stubs: stubs, Created: time.Now().UTC()}
	b, _ := json.Marshal(m)
	if err := atomicfile.WriteFile(filepath.Join(tmp, tplManifest), b, 0o644); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	final := filepath.Join(t.dir, key)
	_ = os.RemoveAll(final)
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	p.log.Info("template saved", zap.String("key", key), zap.Int64("memoryMB", shape.MemoryMB),
		zap.Int("cpus", shape.CPUs), zap.Int("nics", shape.NICs), zap.Int64("stateBytes", size), zap.Duration("took", time.Since(start)))
	return nil
}

// templateSpec is the launch spec shared by a template and its clones: the
// same machine and device list, disks in the fixed slots.
func (p *Provider) templateSpec(ctx context.Context, shape templateShape, image, rw, config string) launchSpec {
	return launchSpec{
		Accel: p.accelerator(ctx), TBSizeMB: p.cfg.TBSizeMB, CPUs: shape.CPUs, MemoryMB: shape.MemoryMB,
		Kernel: p.cfg.Kernel, Initrd: p.cfg.Initrd, TSCkHz: p.tscKHz(ctx),
		Extra: append(append([]string(nil), p.cfg.KernelArgs...), proto.TemplateFlag),
		Image: image, RW: rw, Config: config,
		Ctl: fileCtl, QMP: fileQMP, PidFile: filePid, Console: fileConsole, Log: fileLog,
		ShareSlots: templateShareSlots,
	}
}

// templateBuildSpec is the launch spec of a template VM of shape.
func (p *Provider) templateBuildSpec(ctx context.Context, shape templateShape) launchSpec {
	ls := p.templateSpec(ctx, shape, "image.img", "rw.img", "config.img")
	ls.Template = templateLaunch{RAMFile: tplRAM, RAMShared: true, SerialSock: tplSerial}
	for i := 0; i < shape.NICs; i++ {
		ls.NICs = append(ls.NICs, compute.NIC{MAC: templateMAC(i)})
	}
	return ls
}

// awaitConsole polls a console log for a marker line.
func awaitConsole(ctx context.Context, path, marker string, exited <-chan struct{}) error {
	for {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), marker) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("VM exited before its tether paused")
		case <-ctx.Done():
			return fmt.Errorf("tether did not pause: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// reserveRAMFile creates a template's RAM file of size bytes with all its
// blocks allocated (fallocate), so that running out of room is an error
// here (ENOSPC, naming the directory and the free space) and not a SIGBUS
// in the template's QEMU. On tmpfs this makes the whole size resident.
func reserveRAMFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("RAM file: %w", err)
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		_ = os.Remove(path)
		var st unix.Statfs_t
		free := "unknown"
		if unix.Statfs(filepath.Dir(path), &st) == nil {
			free = fmt.Sprintf("%d MiB", int64(st.Bavail)*st.Bsize>>20)
		}
		return fmt.Errorf("RAM file: cannot allocate %d MiB in %s (%s free): %w", size>>20, filepath.Dir(filepath.Dir(path)), free, err)
	}
	return nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	s := sha256.New()
	n, err := io.Copy(s, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(s.Sum(nil)), n, nil
}

// clone is a start that restores a template instead of booting.
type clone struct {
	dir      string // the template's directory
	tbSizeMB int    // TCG translation cache of the clone (Config.TBSizeClonesMB)
	// ramCopy, when set, is a private copy of the template's RAM file on
	// tmpfs that the clone maps share=on, for virtiofsd to map as well.
	ramCopy string
	// shares are hot-added into the share slots after the restore.
	shares []fsShare
}

// edit turns a cold-boot launch spec into the clone's: the template's RAM
// file and serial socket, an incoming migration, the stub boot files and
// the clones' translation cache size (host-side only, not migrated state).
// Shares leave the command line: resume hot-adds them.
func (c *clone) edit(ls *launchSpec) {
	ls.Extra = append(ls.Extra, proto.TemplateFlag)
	ls.GuestMemory = ""
	ls.Kernel = filepath.Join(c.dir, tplKernel)
	ls.Initrd = filepath.Join(c.dir, tplInitrd)
	ls.TBSizeMB = c.tbSizeMB
	ls.ShareSlots = templateShareSlots
	ls.Template = templateLaunch{RAMFile: filepath.Join(c.dir, tplRAM), SerialSock: tplSerial, Incoming: true}
	if c.ramCopy != "" {
		ls.Template.RAMFile, ls.Template.RAMShared = c.ramCopy, true
	}
	c.shares, ls.Shares = ls.Shares, nil
}

// hotAddShares plugs the clone's shares into its share slots: a chardev
// connected to the share's virtiofsd and a vhost-user-fs-pci device on
// the slot's root port each. The guest's PCIe hotplug driver finds them
// once the clone runs.
func (c *clone) hotAddShares(q *qmpClient) error {
	for i, s := range c.shares {
		id := fmt.Sprintf("fs%d", i)
		if err := q.run("chardev-add", map[string]any{"id": id, "backend": map[string]any{
			"type": "socket", "data": map[string]any{
				"addr":   map[string]any{"type": "unix", "data": map[string]any{"path": s.Socket}},
				"server": false,
			}}}, nil); err != nil {
			return fmt.Errorf("share %s: %w", s.Tag, err)
		}
		if err := q.run("device_add", map[string]any{"driver": "vhost-user-fs-pci", "id": "vfs" + id,
			"chardev": id, "tag": s.Tag, "bus": shareSlotBus(i)}, nil); err != nil {
			return fmt.Errorf("share %s: %w", s.Tag, err)
		}
	}
	return nil
}

// copyRAM copies a template's RAM file to dst (a new file), data extents
// only: the guest never touched the holes, which read as zeros either way.
func copyRAM(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	if err := out.Truncate(fi.Size()); err != nil {
		return err
	}
	fd := int(in.Fd())
	for off := int64(0); off < fi.Size(); {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data past off
		}
		if err != nil {
			return fmt.Errorf("seek %s: %w", src, err)
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return fmt.Errorf("seek %s: %w", src, err)
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			return fmt.Errorf("copy %s: %w", src, err)
		}
		off = hole
	}
	return nil
}

// resume loads the template's device state into the just launched QEMU
// and releases the paused tether. On failure it kills the process.
func (c *clone) resume(ctx context.Context, b *Boot, proc Process) (err error) {
	start := time.Now()
	defer func() {
		if err != nil {
			_ = proc.Kill()
			proc.Wait()
		}
	}()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q, err := dialQMP(rctx, b.p.dial, filepath.Join(b.v.dir, fileQMP))
	if err != nil {
		return err
	}
	defer q.Close()
	if err := q.ignoreShared(); err != nil {
		return err
	}
	if err := q.run("migrate-incoming", map[string]any{"uri": "exec:cat " + shellQuote(filepath.Join(c.dir, tplState))}, nil); err != nil {
		return err
	}
	// The template was stopped before its save, so the clone comes out
	// of the migration paused.
	if err := q.awaitStatus(rctx, "paused", "running"); err != nil {
		return err
	}
	if err := c.hotAddShares(q); err != nil {
		return err
	}
	// The go line is written while the clone is still paused: the device
	// state is loaded, so the UART takes what fits in its FIFO (the rest
	// waits in the socket) and raises its interrupt at cont, and the
	// tether does not wait a round trip after resuming. The clock it
	// carries is a cont's time early (milliseconds).
	p := b.p
	conn, err := p.dial(rctx, filepath.Join(b.v.dir, tplSerial))
	if err != nil {
		return fmt.Errorf("clone serial: %w", err)
	}
	defer conn.Close()
	if err := writeGo(conn, p.clock.Now()); err != nil {
		return err
	}
	if err := q.run("cont", nil, nil); err != nil {
		return err
	}
	restored := time.Since(start)
	// The monitor has not started yet, so the step list is still ours.
	p.mu.Lock()
	b.v.rec.Boot = append(b.v.rec.Boot, compute.Step{Name: StepRestored, At: p.clock.Now()})
	p.persist(b.v)
	p.mu.Unlock()
	if err := awaitFirstRecord(rctx, b); err != nil {
		return err
	}
	p.tpl.restored.Add(1)
	b.log.Info("VM restored from template", zap.String("template", filepath.Base(c.dir)), zap.Duration("restore", restored))
	return nil
}

// releaseTimeout bounds the wait, after the go line, for the clone's
// tether to write its first record; past it the clone counts as failed
// and the container is cold-booted.
const releaseTimeout = 15 * time.Second

// awaitFirstRecord waits until the released clone's tether has written to
// the log port (it does so as soon as it has loaded the modules), which
// proves it left the pause.
func awaitFirstRecord(ctx context.Context, b *Boot) error {
	b.p.mu.Lock()
	start := b.v.rec.LogStart
	b.p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, releaseTimeout)
	defer cancel()
	for {
		if n, err := tetherlink.FileSize(filepath.Join(b.v.dir, fileLog)); err == nil && n > start {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("clone: the tether did not leave the template pause: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func writeGo(conn net.Conn, now time.Time) error {
	_, err := io.WriteString(conn, proto.TemplateGo+" "+strconv.FormatInt(now.UnixNano(), 10)+"\n")
	if err != nil {
		return fmt.Errorf("clone go: %w", err)
	}
	return nil
}

// tail is the end of a file, for diagnostics.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// shellQuote quotes a path for QEMU's exec: URI (run by /bin/sh -c).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// stepLaunchOrClone is the launch step with templates on: an eligible
// container (no volume disks, at most templateShareSlots shares) restores a template if a valid one exists (else one is built
// in the background for the next start); any failure of the restore falls
// back to a cold boot.
func stepLaunchOrClone(ctx context.Context, b *Boot) error {
	p := b.p
	if p.tpl == nil || len(b.volumeDisks) > 0 || len(b.shares) > templateShareSlots {
		return stepLaunch(ctx, b)
	}
	shape := templateShape{CPUs: b.v.spec.CPUs, MemoryMB: b.v.spec.MemoryMB, NICs: len(b.nics) + len(b.spares)}
	if shape.CPUs == 0 {
		shape.CPUs = p.cfg.CPUs
	}
	if shape.MemoryMB == 0 {
		shape.MemoryMB = p.cfg.MemoryMB
	}
	dir := p.tpl.lookup(ctx, shape)
	if dir == "" {
		return stepLaunch(ctx, b)
	}
	c := &clone{dir: dir, tbSizeMB: p.cfg.TBSizeClonesMB}
	if len(b.shares) > 0 {
		c.ramCopy = filepath.Join(p.tpl.shm, fmt.Sprintf("%s-%d", shortID(b.v.id), time.Now().UnixNano()))
		began := time.Now()
		err := os.MkdirAll(p.tpl.shm, 0o700)
		if err == nil {
			err = copyRAM(filepath.Join(dir, tplRAM), c.ramCopy)
		}
		if err != nil {
			// Not the template's fault (tmpfs full, say): keep it.
			b.log.Warn("template RAM copy for a clone with shares failed; cold boot", zap.String("to", c.ramCopy), zap.Error(err))
			return stepLaunch(ctx, b)
		}
		b.log.Debug("template RAM copied for shares", zap.Duration("took", time.Since(began)))
	}
	b.clone = c
	err := stepLaunch(ctx, b)
	b.clone = nil
	if c.ramCopy != "" {
		// QEMU has the file mapped by now (the restore talked to it), or
		// it is gone: either way the name is no longer needed.
		_ = os.Remove(c.ramCopy)
	}
	if err == nil {
		return nil
	}
	b.log.Warn("restore from template failed; cold boot", zap.String("template", filepath.Base(dir)), zap.Error(err),
		zap.String("console", tail(filepath.Join(b.v.dir, fileConsole), 2048)), zap.String("qemu", tail(filepath.Join(b.v.dir, fileQEMUOut), 512)))
	p.tpl.discard(dir)
	if len(b.shares) > 0 {
		// The clone's QEMU connected to the virtiofsds, which end with it.
		if err := b.restartShares(ctx); err != nil {
			return err
		}
	}
	return stepLaunch(ctx, b)
}
