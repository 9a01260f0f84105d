package vsimtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vmdk"
	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/vsphere/vsession"
)

// QEMUHost runs the simulator's VMs as QEMU guests, the way an ESXi host
// would run them: it watches the power state of every VM in the
// session's pool, and at a power on reads the VM's configuration and
// starts qemu-system-x86_64 (TCG, machine pc, BIOS boot from the CD-ROM)
// with the VM's devices:
//
//   - the CD-ROM's ISO ("[ds] path", the datastore's host directory + path)
//     as an IDE CD-ROM, booted from;
//   - a PVSCSI controller as -device pvscsi, each of its disks a scsi-hd
//     with scsi-id = the disk's unit number: a child disk (a backing with
//     a Parent: the container's writable layer, an image layer) as its
//     delta file, a qcow2 beside its descriptor on the datastore
//     (NAME-delta.qcow2, made at its first attach and kept with the disk,
//     so a second boot, or another VM, sees the first one's writes) whose
//     backing file is its parent's image, resolved the same way: the
//     parent's own delta file if it is a child itself (a chain of any
//     length), else its raw flat extent; any other disk (a base layer, a
//     volume) as its own flat extent, raw;
//   - serial ports by unit number as COM1, COM2, …: tcp:// URIs as client
//     sockets that reconnect every second, file backings as files
//     (appended to: a second boot keeps the first one's console);
//   - vmxnet3 NICs with the VM's MACs, each on its port group's switch: a
//     learning Ethernet switch of the host's on a loopback TCP port
//     (-netdev socket,connect=…), so VMs on one port group reach each
//     other and nothing else; a port group of Options.UserNets instead
//     gets a QEMU user-mode network with those options;
//   - every guestinfo.* key of extraConfig in one JSON object, as the
//     fw_cfg file opt/vch/guestinfo (in the guest:
//     /sys/firmware/qemu_fw_cfg/by_name/opt/vch/guestinfo/raw);
//   - the VM's memory and vCPUs; -no-reboot;
//   - a VM without serial ports gets COM1 on a file, console.log in its
//     directory of the host's (ConsolePath), where ESXi would show the
//     VGA console;
//   - a QMP monitor, qmp.sock in its directory of the host's.
//
// While a VM runs, its NICs follow its configuration, as ESXi's do on a
// reconfigure (nics.go): every poll reads the running VMs' devices and
// compares their vmxnet3 NICs (device key, MAC, port group) with what
// each QEMU has. A NIC added is hot-added over the monitor (netdev_add
// on its port group's switch or user-mode network, then device_add
// vmxnet3 with its MAC: an ACPI PCI hot-plug on machine pc; ids hotnetN
// and hotnicN, apart from the command line's net0, net1, …); a NIC
// removed is hot-removed (device_del, and netdev_del once the guest has
// ejected it, DEVICE_DELETED, or after ejectWait without). Failures are
// logged, not retried. Disks on the PVSCSI controllers follow the
// configuration the same way (disks.go): a disk added is hot-added
// (blockdev-add, device_add scsi-hd at its unit), a disk removed is
// hot-removed (device_del, blockdev-del); its delta or flat file stays
// unless the reconfigure destroyed it.
//
// QEMU ends (killed, and with SIGKILL if the test process dies) when the
// VM is powered off or destroyed, or the host is closed; when the guest
// ends QEMU (a power off, or a reboot under -no-reboot), the host powers
// the VM off, as ESXi would; so does a power on whose VM it cannot run
// (logged). VMs that were on before the host started (the simulator's
// own) are left alone. A suspended VM's QEMU is stopped (SIGSTOP)
// until it is powered on again. Power ons are told apart by the VM's
// boot time (where the simulator sets it), so a power cycle between two
// looks is a new boot.
type QEMUHost struct {
	sess *vsession.Session
	log  *zap.Logger
	dir  string
	// Accel is QEMU's -accel value ("tcg"; this machine's KVM cannot
	// boot a guest, see FIELD-NOTES).
	accel string

	// before holds the VMs that were on or suspended when the host
	// started (the simulator's own): they are left alone until they are
	// seen off.
	before map[string]bool

	stop chan struct{}
	done chan struct{}

	opts QEMUHostOptions

	mu  sync.Mutex
	vms map[string]*guest // by VM reference value
	// switches are the port groups' switches, by port group name.
	switches map[string]*portSwitch
	ds       map[string]string // datastore name -> host directory
	// boots counts the QEMU processes started, by VM name.
	boots map[string]int
}

// guest is one QEMU process of a VM's boot.
type guest struct {
	name      string
	ref       types.ManagedObjectReference
	boot      time.Time // the VM's boot time at this power on
	cmd       *exec.Cmd
	exited    chan struct{}
	killed    bool
	suspended bool
	logPath   string

	// The NICs its QEMU has, and its monitor; only the host's watch
	// goroutine touches these (nics.go).
	nics    []runNIC
	hotSeq  int    // the last hot-added NIC's number
	qmpPath string // the monitor's socket
	qmp     *qmpClient
	deleted <-chan qmpEvent // DEVICE_DELETED events of qmp

	// The disks its QEMU has on its PVSCSI controllers (ctrls, by QEMU
	// id), likewise (disks.go).
	disks   []runDisk
	diskSeq int // the last hot-added disk's number
	ctrls   map[string]bool
}

// QEMUHostOptions change how a QEMUHost runs its VMs, for tests that
// boot a whole VCH: its endpoint VM reaching the test, container VMs
// reaching the endpoint VM.
type QEMUHostOptions struct {
	// UserNets maps a port group's name to the options of the QEMU
	// user-mode network its NICs get instead of the port group's switch
	// (after "user,id=…,"), e.g. "restrict=on,hostfwd=tcp:127.0.0.1:P-:2376".
	// Each NIC gets a user-mode network of its own.
	UserNets map[string]string
	// SerialRoute, if set, maps the HOST:PORT of a tcp:// serial port to
	// the one QEMU connects to (a guest's address to a hostfwd port).
	SerialRoute func(hostPort string) string
	// Guestinfo, if set, may change the guestinfo keys the VM named vm
	// reads, before each boot.
	Guestinfo func(vm string, info map[string]string) error
}

// pollEvery is how often the host reads the pool's VMs.
const pollEvery = 200 * time.Millisecond

// StartQEMUHost starts a host for the VMs in sess's pool; it is closed
// when t ends (its QEMUs killed, its directory removed). It needs
// qemu-system-x86_64 and qemu-img.
func StartQEMUHost(t *testing.T, sess *vsession.Session, log *zap.Logger) *QEMUHost {
	t.Helper()
	return StartQEMUHostWith(t, sess, log, QEMUHostOptions{})
}

// StartQEMUHostWith is StartQEMUHost with options.
func StartQEMUHostWith(t *testing.T, sess *vsession.Session, log *zap.Logger, opts QEMUHostOptions) *QEMUHost {
	t.Helper()
	for _, bin := range []string{"qemu-system-x86_64", "qemu-img"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("QEMUHost needs %s: %v", bin, err)
		}
	}
	dir, err := os.MkdirTemp("", "vch-qemuhost-")
	if err != nil {
		t.Fatal(err)
	}
	h := &QEMUHost{sess: sess, log: log.Named("qemuhost"), dir: dir, accel: "tcg", opts: opts, before: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{}),
		vms: map[string]*guest{}, ds: map[string]string{}, boots: map[string]int{}, switches: map[string]*portSwitch{}}
	on, err := h.list()
	if err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("QEMUHost: the pool's VMs: %v", err)
	}
	for _, m := range on {
		if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			h.before[m.Self.Value] = true
		}
	}
	go h.watch()
	t.Cleanup(func() {
		h.Close()
		if t.Failed() {
			h.dumpLogs(t)
		}
		_ = os.RemoveAll(dir)
	})
	return h
}

// Boots is how many times a QEMU was started for the VM named name.
func (h *QEMUHost) Boots(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.boots[name]
}

// Pid is the pid of the QEMU that runs the VM named name, 0 if none
// runs.
func (h *QEMUHost) Pid(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.vms {
		if g.name != name || g.cmd == nil || g.cmd.Process == nil {
			continue
		}
		select {
		case <-g.exited:
		default:
			return g.cmd.Process.Pid
		}
	}
	return 0
}

// ConsolePath is the file COM1 writes to in a VM without serial ports
// (the endpoint VM's console), by the VM's name; "" if the host never
// ran it.
func (h *QEMUHost) ConsolePath(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.vms {
		if g.name == name && g.logPath != "" {
			return filepath.Join(filepath.Dir(g.logPath), "console.log")
		}
	}
	return ""
}

// Switch is the address of the port group's switch (made if need be),
// where anything speaking QEMU's socket framing can join the port group.
func (h *QEMUHost) Switch(portGroup string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.switches[portGroup]; s != nil {
		return s.Addr(), nil
	}
	s, err := newPortSwitch(portGroup, h.log)
	if err != nil {
		return "", fmt.Errorf("switch of port group %s: %w", portGroup, err)
	}
	h.switches[portGroup] = s
	return s.Addr(), nil
}

// Close kills every QEMU and stops watching; the VMs' power states are
// left as they are.
func (h *QEMUHost) Close() {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
	h.mu.Lock()
	switches := h.switches
	h.switches = map[string]*portSwitch{}
	h.mu.Unlock()
	for _, s := range switches {
		_ = s.Close()
	}
}

func (h *QEMUHost) dumpLogs(t *testing.T) {
	logs, _ := filepath.Glob(filepath.Join(h.dir, "*", "qemu.log"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil && len(b) > 0 {
			t.Logf("QEMUHost: %s:\n%s", l, lastLines(string(b), 30))
		}
	}
}

func (h *QEMUHost) watch() {
	defer close(h.done)
	defer func() {
		h.mu.Lock()
		all := make([]*guest, 0, len(h.vms))
		for _, g := range h.vms {
			all = append(all, g)
		}
		h.mu.Unlock()
		for _, g := range all {
			h.kill(g)
		}
	}()
	for {
		if err := h.poll(); err != nil {
			h.log.Warn("reading the pool's VMs", zap.Error(err))
		}
		select {
		case <-h.stop:
			return
		case <-time.After(pollEvery):
		}
	}
}

// list reads the pool's VMs (a view of its own each time: the
// simulator's views do not follow VMs created after them).
func (h *QEMUHost) list() ([]mo.VirtualMachine, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := view.NewManager(h.sess.Client).CreateContainerView(ctx, h.sess.Pool.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	err = v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime.powerState", "summary.runtime.bootTime"}, &vms)
	return vms, err
}

func (h *QEMUHost) poll() error {
	vms, err := h.list()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for i := range vms {
		m := &vms[i]
		seen[m.Self.Value] = true
		var boot time.Time
		if m.Summary.Runtime.BootTime != nil {
			boot = *m.Summary.Runtime.BootTime
		}
		h.sync(ctx, m.Self, m.Name, m.Runtime.PowerState, boot)
	}
	h.mu.Lock()
	var gone, running []*guest
	for ref, g := range h.vms {
		if !seen[ref] {
			gone = append(gone, g)
			delete(h.vms, ref)
			continue
		}
		if g.cmd != nil && !g.suspended && !g.killed {
			running = append(running, g)
		}
	}
	h.mu.Unlock()
	for _, g := range gone {
		h.kill(g)
	}
	h.followDevices(ctx, running)
	return nil
}

// sync brings a VM's QEMU in line with its power state.
func (h *QEMUHost) sync(ctx context.Context, ref types.ManagedObjectReference, name string, power types.VirtualMachinePowerState, boot time.Time) {
	h.mu.Lock()
	g := h.vms[ref.Value]
	h.mu.Unlock()
	if h.before[ref.Value] {
		if power == types.VirtualMachinePowerStatePoweredOff {
			delete(h.before, ref.Value)
		}
		return
	}
	switch power {
	case types.VirtualMachinePowerStatePoweredOn:
		if g != nil && g.suspended {
			g.suspended = false
			g.boot = boot
			if g.cmd.Process != nil {
				_ = g.cmd.Process.Signal(syscall.SIGCONT)
			}
			return
		}
		if g != nil && g.boot.Equal(boot) {
			return // this boot's QEMU runs, or ended and the VM is being powered off
		}
		if g != nil {
			h.kill(g)
		}
		ng, err := h.start(ctx, ref, name, boot)
		if err != nil {
			h.log.Error("VM powered on, QEMU not started: powering it off", zap.String("vm", name), zap.Error(err))
			h.powerOff(ref, name)
			// Remember the boot, so it is not retried.
			ng = &guest{name: name, ref: ref, boot: boot, exited: make(chan struct{})}
			close(ng.exited)
		}
		h.mu.Lock()
		h.vms[ref.Value] = ng
		h.mu.Unlock()
	case types.VirtualMachinePowerStateSuspended:
		if g != nil && !g.suspended && g.cmd != nil && g.cmd.Process != nil {
			g.suspended = true
			_ = g.cmd.Process.Signal(syscall.SIGSTOP)
		}
	default:
		if g != nil {
			h.mu.Lock()
			delete(h.vms, ref.Value)
			h.mu.Unlock()
			h.kill(g)
		}
	}
}

// kill ends g's QEMU and waits for it.
func (h *QEMUHost) kill(g *guest) {
	h.mu.Lock()
	g.killed = true
	h.mu.Unlock()
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(syscall.SIGCONT)
		_ = g.cmd.Process.Kill()
	}
	<-g.exited
	if g.qmp != nil {
		g.qmp.Close()
		g.qmp = nil
	}
}

// powerOffBoot powers the VM off, as ESXi does when its guest ends, if
// it still runs the boot whose guest ended: a VM that vchd powered off
// and on again meanwhile (a maintenance boot right after the run's exit)
// runs a new boot, which the next poll starts a QEMU for.
func (h *QEMUHost) powerOffBoot(ref types.ManagedObjectReference, name string, boot time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var m mo.VirtualMachine
	if err := object.NewVirtualMachine(h.sess.Client, ref).Properties(ctx, ref, []string{"summary.runtime.bootTime"}, &m); err == nil {
		if now := m.Summary.Runtime.BootTime; now != nil && !now.Equal(boot) {
			h.log.Info("the VM was booted again meanwhile: not powered off", zap.String("vm", name))
			return
		}
	}
	h.powerOff(ref, name)
}

// powerOff powers the VM off; a VM that is off already is no error.
func (h *QEMUHost) powerOff(ref types.ManagedObjectReference, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	task, err := object.NewVirtualMachine(h.sess.Client, ref).PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		// Off already (vchd powered it off too) is no error.
		var m mo.VirtualMachine
		if perr := object.NewVirtualMachine(h.sess.Client, ref).Properties(ctx, ref, []string{"runtime.powerState"}, &m); perr == nil && m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
			return
		}
		h.log.Warn("power off after the guest ended", zap.String("vm", name), zap.Error(err))
	}
}

// start reads the VM's configuration and starts its QEMU.
func (h *QEMUHost) start(ctx context.Context, ref types.ManagedObjectReference, name string, boot time.Time) (*guest, error) {
	var m mo.VirtualMachine
	if err := object.NewVirtualMachine(h.sess.Client, ref).Properties(ctx, ref, []string{"config"}, &m); err != nil {
		return nil, fmt.Errorf("VM %s: config: %w", name, err)
	}
	if m.Config == nil {
		return nil, fmt.Errorf("VM %s has no config", name)
	}
	dir := filepath.Join(h.dir, ref.Value)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	args, err := h.args(ctx, m.Config, name, dir)
	if err != nil {
		return nil, fmt.Errorf("VM %s: %w", name, err)
	}
	logPath := filepath.Join(dir, "qemu.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	fmt.Fprintf(out, "# %s qemu-system-x86_64 %s\n", time.Now().UTC().Format(time.RFC3339Nano), strings.Join(args, " "))
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Stdout, cmd.Stderr = out, out
	// Killed with the test process (the thread that forks it is not
	// locked to a goroutine, so Go does not end it early).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("VM %s: start QEMU: %w", name, err)
	}
	g := &guest{name: name, ref: ref, boot: boot, cmd: cmd, exited: make(chan struct{}), logPath: logPath,
		nics: bootNICs(m.Config.Hardware.Device), qmpPath: filepath.Join(dir, qmpSocket),
		disks: bootDisks(m.Config.Hardware.Device), ctrls: controllersOf(m.Config.Hardware.Device)}
	h.mu.Lock()
	h.boots[name]++
	h.mu.Unlock()
	h.log.Info("VM powered on: QEMU started", zap.String("vm", name), zap.Int("pid", cmd.Process.Pid))
	go func() {
		err := cmd.Wait()
		h.mu.Lock()
		killed := g.killed
		h.mu.Unlock()
		if !killed {
			h.log.Info("QEMU ended: powering the VM off", zap.String("vm", name), zap.NamedError("exit", err))
			h.powerOffBoot(ref, name, boot)
		}
		close(g.exited)
	}()
	return g, nil
}

// HostPath maps a datastore path "[ds] p" to the host file behind it
// (the simulator's datastores are host directories, summary.url
// ds://DIR).
func (h *QEMUHost) HostPath(ctx context.Context, dsPath string) (string, error) {
	var dp object.DatastorePath
	if !dp.FromString(dsPath) || dp.Datastore == "" {
		return "", fmt.Errorf("datastore path %q", dsPath)
	}
	h.mu.Lock()
	dir, ok := h.ds[dp.Datastore]
	h.mu.Unlock()
	if !ok {
		ds, err := h.sess.Finder.Datastore(ctx, dp.Datastore)
		if err != nil {
			return "", fmt.Errorf("datastore %s: %w", dp.Datastore, err)
		}
		var m mo.Datastore
		if err := ds.Properties(ctx, ds.Reference(), []string{"summary"}, &m); err != nil {
			return "", fmt.Errorf("datastore %s: %w", dp.Datastore, err)
		}
		// The simulator's local datastores: the directory, or ds://DIR.
		dir = strings.TrimPrefix(m.Summary.Url, "ds://")
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("datastore %s: url %q is no host directory", dp.Datastore, m.Summary.Url)
		}
		h.mu.Lock()
		h.ds[dp.Datastore] = dir
		h.mu.Unlock()
	}
	return filepath.Join(dir, filepath.FromSlash(dp.Path)), nil
}

// flatExtent is the host file of a flat VMDK's (first) extent, named
// by its descriptor; capacity is the disk's size in bytes.
func (h *QEMUHost) flatExtent(ctx context.Context, disk string) (path string, capacity int64, err error) {
	desc, err := h.HostPath(ctx, disk)
	if err != nil {
		return "", 0, err
	}
	f, err := os.Open(desc)
	if err != nil {
		return "", 0, fmt.Errorf("disk %s: %w", disk, err)
	}
	defer f.Close()
	d, err := vmdk.ParseDescriptor(f)
	if err != nil || len(d.Extent) == 0 {
		return "", 0, fmt.Errorf("disk %s: no flat VMDK descriptor (%v)", disk, err)
	}
	return filepath.Join(filepath.Dir(desc), d.Extent[0].Info), d.Capacity(), nil
}

// deltaFile is the host file holding a child disk's own writes: a qcow2
// beside its descriptor (where ESXi keeps a delta disk's extent,
// NAME-delta.vmdk), whose backing file is its parent's image. It is made
// the first time the child is attached and kept with the disk's folder,
// so the disk's content outlives the VM it was attached to, and a child
// of this child finds it: a disk with a delta file is a child, whatever
// the backing that names it says.
func deltaFile(desc string) string { return strings.TrimSuffix(desc, ".vmdk") + "-delta.qcow2" }

// diskFile is the file QEMU opens for a disk, and its format: a child
// disk's delta file (qcow2 over its parent's image, resolved the same way
// down the chain), any other disk's flat extent (raw).
func (h *QEMUHost) diskFile(ctx context.Context, b *types.VirtualDiskFlatVer2BackingInfo) (string, string, error) {
	return h.diskImage(ctx, b.FileName, b.Parent, 0)
}

// maxChain bounds a chain of child disks (ESXi allows 255 links).
const maxChain = 255

// diskImage resolves the disk at the datastore path disk, whose parent
// (if the backing names one) is parent.
func (h *QEMUHost) diskImage(ctx context.Context, disk string, parent *types.VirtualDiskFlatVer2BackingInfo, depth int) (string, string, error) {
	if depth > maxChain {
		return "", "", fmt.Errorf("disk %s: a chain of more than %d disks", disk, maxChain)
	}
	desc, err := h.HostPath(ctx, disk)
	if err != nil {
		return "", "", err
	}
	delta := deltaFile(desc)
	if _, err := os.Stat(delta); err == nil {
		return delta, "qcow2", nil
	}
	extent, capacity, err := h.flatExtent(ctx, disk)
	if err != nil {
		return "", "", err
	}
	if parent == nil {
		// The simulator makes an empty extent; ESXi's would have the
		// disk's size.
		if st, err := os.Stat(extent); err != nil {
			return "", "", err
		} else if st.Size() < capacity {
			if err := os.Truncate(extent, capacity); err != nil {
				return "", "", err
			}
		}
		return extent, "raw", nil
	}
	base, format, err := h.diskImage(ctx, parent.FileName, parent.Parent, depth+1)
	if err != nil {
		return "", "", fmt.Errorf("parent of %s: %w", disk, err)
	}
	// Made under another name and renamed: a half-made delta file is
	// never taken for the disk's content.
	tmp := delta + ".tmp"
	_ = os.Remove(tmp)
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", base, tmp, strconv.FormatInt(capacity, 10)).CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", "", fmt.Errorf("delta of %s on %s: %v: %s", disk, base, err, out)
	}
	if err := os.Rename(tmp, delta); err != nil {
		_ = os.Remove(tmp)
		return "", "", err
	}
	return delta, "qcow2", nil
}

// args is QEMU's command line for a VM's configuration; dir holds its
// guestinfo file.
func (h *QEMUHost) args(ctx context.Context, cfg *types.VirtualMachineConfigInfo, name, dir string) ([]string, error) {
	mem := cfg.Hardware.MemoryMB
	if mem <= 0 {
		mem = 256
	}
	cpus := cfg.Hardware.NumCPU
	if cpus <= 0 {
		cpus = 1
	}
	qmp := filepath.Join(dir, qmpSocket)
	if len(qmp) >= maxUnixPath {
		return nil, fmt.Errorf("monitor socket %s: path too long for a unix socket", qmp)
	}
	args := []string{"-accel", h.accel, "-M", "pc", "-m", strconv.Itoa(int(mem)), "-smp", strconv.Itoa(int(cpus)),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-qmp", "unix:" + escape(qmp) + ",server=on,wait=off"}
	devs := object.VirtualDeviceList(cfg.Hardware.Device)

	// The CD-ROM, booted from.
	cdroms := 0
	for _, d := range devs.SelectByType((*types.VirtualCdrom)(nil)) {
		b, ok := d.GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo)
		if !ok {
			continue
		}
		iso, err := h.HostPath(ctx, b.FileName)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(iso); err != nil {
			return nil, fmt.Errorf("CD-ROM: %w", err)
		}
		args = append(args, "-drive", "file="+escape(iso)+",media=cdrom,if=ide,index="+strconv.Itoa(2+cdroms)+",readonly=on")
		cdroms++
	}
	if cdroms > 0 {
		args = append(args, "-boot", "d")
	}

	// PVSCSI controllers and their disks.
	for ci, c := range devs.SelectByType((*types.ParaVirtualSCSIController)(nil)) {
		ctrl := fmt.Sprintf("pvscsi%d", ci)
		args = append(args, "-device", "pvscsi,id="+ctrl)
		key := c.GetVirtualDevice().Key
		for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
			disk := d.(*types.VirtualDisk)
			if disk.ControllerKey != key || disk.UnitNumber == nil {
				continue
			}
			b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !ok {
				return nil, fmt.Errorf("disk %d: backing %T", *disk.UnitNumber, disk.Backing)
			}
			file, format, err := h.diskFile(ctx, b)
			if err != nil {
				return nil, err
			}
			id := fmt.Sprintf("%s-%d", ctrl, *disk.UnitNumber)
			args = append(args, "-drive", "file="+escape(file)+",format="+format+",if=none,id="+id,
				"-device", fmt.Sprintf("scsi-hd,bus=%s.0,scsi-id=%d,lun=0,drive=%s,id=%s", ctrl, *disk.UnitNumber, id, bootDiskDevice(id)))
		}
	}

	// Serial ports, COM1 first, by unit number.
	ports := devs.SelectByType((*types.VirtualSerialPort)(nil))
	sort.SliceStable(ports, func(i, j int) bool { return unit(ports[i]) < unit(ports[j]) })
	for i, d := range ports {
		id := "serial" + strconv.Itoa(i)
		switch b := d.GetVirtualDevice().Backing.(type) {
		case *types.VirtualSerialPortURIBackingInfo:
			u, err := url.Parse(b.ServiceURI)
			if err != nil || u.Scheme != "tcp" || b.Direction != string(types.VirtualDeviceURIBackingOptionDirectionClient) {
				return nil, fmt.Errorf("serial port %d: %s %q: only tcp:// client ports are run", i, b.Direction, b.ServiceURI)
			}
			to := u.Host
			if h.opts.SerialRoute != nil {
				to = h.opts.SerialRoute(to)
			}
			host, port, err := net.SplitHostPort(to)
			if err != nil {
				return nil, fmt.Errorf("serial port %d: %w", i, err)
			}
			args = append(args, "-chardev", fmt.Sprintf("socket,id=%s,host=%s,port=%s,server=off,reconnect=1", id, host, port))
		case *types.VirtualSerialPortFileBackingInfo:
			p, err := h.HostPath(ctx, b.FileName)
			if err != nil {
				return nil, err
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			args = append(args, "-chardev", "file,id="+id+",path="+escape(p)+",append=on")
		default:
			return nil, fmt.Errorf("serial port %d: backing %T", i, b)
		}
		args = append(args, "-device", "isa-serial,chardev="+id+",index="+strconv.Itoa(i))
	}
	if len(ports) == 0 {
		args = append(args, "-chardev", "file,id=console,path="+escape(filepath.Join(dir, "console.log"))+",append=on",
			"-device", "isa-serial,chardev=console,index=0")
	}

	// vmxnet3 NICs, on their port groups' switches.
	for i, d := range devs.SelectByType((*types.VirtualVmxnet3)(nil)) {
		id := "net" + strconv.Itoa(i)
		card := d.(*types.VirtualVmxnet3)
		dev := "vmxnet3,netdev=" + id
		if card.MacAddress != "" {
			dev += ",mac=" + card.MacAddress
		}
		pg, err := h.portGroupOf(ctx, card.Backing)
		if err != nil {
			return nil, fmt.Errorf("NIC %d: %w", i, err)
		}
		if opts, ok := h.opts.UserNets[pg]; ok {
			args = append(args, "-netdev", "user,id="+id+","+opts, "-device", dev)
			continue
		}
		addr, err := h.Switch(pg)
		if err != nil {
			return nil, err
		}
		args = append(args, "-netdev", "socket,id="+id+",connect="+addr, "-device", dev)
	}

	// guestinfo, for the guest to read through fw_cfg.
	info := map[string]string{}
	for _, o := range cfg.ExtraConfig {
		ov := o.GetOptionValue()
		if s, ok := ov.Value.(string); ok && strings.HasPrefix(ov.Key, "guestinfo.") {
			info[ov.Key] = s
		}
	}
	if h.opts.Guestinfo != nil {
		if err := h.opts.Guestinfo(name, info); err != nil {
			return nil, fmt.Errorf("guestinfo: %w", err)
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	gi := filepath.Join(dir, "guestinfo.json")
	if err := os.WriteFile(gi, b, 0o600); err != nil {
		return nil, err
	}
	args = append(args, "-fw_cfg", "name=opt/vch/guestinfo,file="+escape(gi))
	return args, nil
}

// portGroupOf is the name of the port group a NIC's backing is on.
func (h *QEMUHost) portGroupOf(ctx context.Context, b types.BaseVirtualDeviceBackingInfo) (string, error) {
	switch b := b.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		return b.DeviceName, nil
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		ref := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}
		var m mo.DistributedVirtualPortgroup
		if err := object.NewCommon(h.sess.Client, ref).Properties(ctx, ref, []string{"name"}, &m); err != nil {
			return "", fmt.Errorf("port group %s: %w", b.Port.PortgroupKey, err)
		}
		return m.Name, nil
	default:
		return "", fmt.Errorf("backing %T", b)
	}
}

func unit(d types.BaseVirtualDevice) int32 {
	if u := d.GetVirtualDevice().UnitNumber; u != nil {
		return *u
	}
	return 1 << 30
}

// escape doubles the commas of a value in a QEMU option list.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
