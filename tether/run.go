package tether

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
	"github.com/vchproject/vch/tether/stats"
)

// deviceTimeout bounds the wait for disks and ports to appear (TCG boots
// are slow).
const deviceTimeout = 20 * time.Second

// tether is the state of PID 1.
type tether struct {
	log    *zap.Logger
	level  zap.AtomicLevel
	rec    *recordWriter // nil until the log port is open
	mounts mountStack
	reaper *reaper
	proc   *mainProcess
	cfg    *proto.Config
	goSig  *goSignal // set in a clone of a template VM
	cpu    *stats.Sampler
	// root is the container's root: rootMount in a VM, "/" on the vSphere
	// transport (the backing container's own file system).
	root string
	// halt ends the container after powerOff's cleanup; nil: reboot
	// (QEMU ends the VM).
	halt func()

	// sessions: archive sessions hold it shared; powerOff takes it, so it
	// waits for them, and stopping refuses new ones.
	sessions sync.RWMutex
	stopping atomic.Bool
	// fz stops and continues the container's processes (pause, and
	// docker commit's read of the writable layer).
	fz *freezer
}

// Run is PID 1's main. It never returns.
func Run() {
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	enc := zap.NewDevelopmentEncoderConfig()
	// Lines carry the time since boot, not the wall clock: that is wrong
	// until identity sets it, and a clone's jumps at its release.
	enc.TimeKey = "t"
	enc.EncodeTime = func(_ time.Time, pae zapcore.PrimitiveArrayEncoder) {
		pae.AppendString(sinceBoot().Round(time.Millisecond).String())
	}
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), level)).Named("tether")
	t := &tether{log: log, level: level, proc: newMainProcess(), root: rootMount}
	if src := (guestinfo.Env{}); platformVSphere(src) {
		// guestinfo in the environment: a docker-backed simulator VM,
		// whose container shares its host's network (no NICs to set up).
		runVSphere(t, src, dockerBacked())
	}
	if bootedVSphere() {
		runVSphereVM(t)
	}
	defer func() {
		if r := recover(); r != nil {
			t.fail(fmt.Errorf("tether panic: %v\n%s", r, debug.Stack()), execspec.ExitStartFailed)
		}
	}()
	code, err := t.run()
	if err != nil {
		t.fail(err, execspec.ExitCode(err))
	}
	t.log.Debug("main process done", zap.Int("exitCode", code))
	t.powerOff()
}

// run boots the guest, runs the main process and returns its exit code.
// After an error the caller reports it and powers off.
func (t *tether) run() (int, error) {
	if err := mountEarly(); err != nil {
		return 0, err
	}
	if debugCmdline() {
		t.level.SetLevel(zap.DebugLevel)
	}
	t.log.Debug("tether started", zap.Duration("sinceBoot", sinceBoot()))
	t.reaper = newReaper()
	order, err := moduleOrder()
	if err != nil {
		return 0, err
	}
	template := cmdlineFlag(proto.TemplateFlag)
	if template {
		// The modules load before the save; the devices are probed
		// only in each clone (holdProbes).
		if err := holdProbes(heldBuses); err != nil {
			return 0, err
		}
	}
	if err := loadModules(order, t.log); err != nil {
		return 0, err
	}
	if template {
		g, err := awaitGo(templateConsole)
		if err != nil {
			return 0, err
		}
		t.goSig = &g
		n, err := releaseProbes(heldBuses)
		if err != nil {
			return 0, err
		}
		t.log.Debug("template clone released", zap.Duration("sinceBoot", sinceBoot()), zap.Int("devicesOffered", n))
	}
	ports, err := waitFor(func() (map[string]string, error) {
		return findByName("/sys/class/virtio-ports/*", "name")
	}, []string{proto.PortLog, proto.PortControl}, deviceTimeout)
	if err != nil {
		return 0, fmt.Errorf("virtio-serial ports: %w", err)
	}
	logPort, err := t.openPort(ports[proto.PortLog])
	if err != nil {
		return 0, err
	}
	t.rec = &recordWriter{w: logPort}
	t.emit(proto.Event{Name: proto.EventTether})
	t.log.Debug("ports ready")

	disks, err := waitFor(func() (map[string]string, error) {
		return findByName("/sys/block/vd*", "serial")
	}, []string{proto.DiskConfig}, deviceTimeout)
	if err != nil {
		return 0, fmt.Errorf("disks: %w", err)
	}
	if err := t.readConfig(disks[proto.DiskConfig]); err != nil {
		return 0, err
	}
	// Before anything reads the RNG (or boot_id), and long before the
	// container's process exists.
	if err := seedKernelRNG(randomDevice, t.cfg.Entropy, 8*len(t.cfg.Entropy)); err != nil {
		return 0, err
	}
	if err := loadModules(t.cfg.Modules, t.log); err != nil {
		return 0, err
	}
	if err := t.identity(); err != nil {
		return 0, err
	}
	t.log.Debug("identity set")
	if err := setupNetwork(t.cfg.Interfaces, t.log); err != nil {
		return 0, err
	}
	ctlPort, err := t.openPort(ports[proto.PortControl])
	if err != nil {
		return 0, err
	}
	srv, err := t.controlServer()
	if err != nil {
		return 0, err
	}
	go srv.Serve(context.Background(), ctlPort)
	t.log.Debug("network and control ready")

	if err := t.mountContainer(disks); err != nil {
		return 0, err
	}
	t.emit(proto.Event{Name: proto.EventMounted})
	if t.cfg.Maintenance {
		// Serve archive requests until the host asks for power off.
		select {}
	}
	return t.runProcess()
}

// controlServer returns the control server for the container.
func (t *tether) controlServer() (*control.Server, error) {
	srv, err := control.NewServer(t.cfg.HostKey, t.proc, setClock, t.log.Named("control"))
	if err != nil {
		return nil, err
	}
	srv.Exec = execer{t}
	srv.Top = t.top
	t.cpu = stats.NewSampler("/proc", time.Now)
	go t.cpu.Run(context.Background(), stats.SampleEvery)
	srv.Stats = t.stats
	srv.NIC = func(r proto.NICRequest) error { return configureNIC(r, t.log) }
	fz := &freezer{}
	t.fz = fz
	srv.Freeze = func() error { fz.hostOwns(); return fz.freeze() }
	srv.Thaw = fz.thaw
	srv.Archive = archiver{t: t}
	if t.cfg.Maintenance {
		srv.PowerOff = t.powerOff
	}
	return srv, nil
}

// debugCmdline reports vch.debug on the kernel command line, which turns
// debug logging on before the config is read.
func debugCmdline() bool {
	b, _ := os.ReadFile("/proc/cmdline")
	for _, f := range strings.Fields(string(b)) {
		if f == "vch.debug" {
			return true
		}
	}
	return false
}

func (t *tether) openPort(name string) (*os.File, error) {
	dev, err := devNode(filepath.Join("/sys/class/virtio-ports", name), name, unix.S_IFCHR)
	if err != nil {
		return nil, err
	}
	return openPort(dev)
}

func (t *tether) readConfig(name string) error {
	dev, err := devNode(filepath.Join("/sys/block", name), name, unix.S_IFBLK)
	if err != nil {
		return err
	}
	f, err := os.Open(dev)
	if err != nil {
		return fmt.Errorf("config disk: %w", err)
	}
	defer f.Close()
	c, err := proto.ReadConfig(f)
	if err != nil {
		return err
	}
	t.setConfig(c)
	return nil
}

// setConfig takes the container's config.
func (t *tether) setConfig(c *proto.Config) {
	t.cfg = c
	t.proc.mu.Lock()
	t.proc.tty = c.Process.Tty
	if cs := c.Process.ConsoleSize; c.Process.Tty && cs[0] > 0 && cs[1] > 0 {
		t.proc.size = &[2]uint16{cs[0], cs[1]}
	}
	t.proc.mu.Unlock()
	if c.Debug {
		t.level.SetLevel(zap.DebugLevel)
	}
	t.log.Debug("config read", zap.String("id", c.ID), zap.Strings("args", c.Process.Args))
}

// identity sets the clock, hostname and domain name.
func (t *tether) identity() error {
	switch {
	case t.goSig != nil:
		// A clone: its boot clock ran in the template.
		if err := setClock(t.goSig.clock(sinceBoot())); err != nil {
			t.log.Warn("clock", zap.Error(err))
		}
	case t.cfg.LaunchTime != 0:
		if err := setClock(bootClock(t.cfg.LaunchTime, sinceBoot())); err != nil {
			t.log.Warn("clock", zap.Error(err))
		}
	}
	if h := t.cfg.Hostname; h != "" {
		if err := unix.Sethostname([]byte(h)); err != nil {
			return fmt.Errorf("sethostname %q: %w", h, err)
		}
	}
	if d := t.cfg.Domainname; d != "" {
		if err := unix.Setdomainname([]byte(d)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", d, err)
		}
	}
	return nil
}

func (t *tether) mountContainer(disks map[string]string) error {
	dev := func(serial string) (string, error) {
		name, ok := disks[serial]
		if !ok {
			return "", nil
		}
		return devNode(filepath.Join("/sys/block", name), name, unix.S_IFBLK)
	}
	image, err := dev(proto.DiskImage)
	if err != nil {
		return err
	}
	rw, err := dev(proto.DiskRW)
	if err != nil {
		return err
	}
	if err := mountRoot(&t.mounts, image, rw); err != nil {
		return err
	}
	t.log.Debug("root mounted")
	if !t.cfg.Maintenance {
		if err := mountInRoot(&t.mounts, rootMount); err != nil {
			return err
		}
	}
	var want []string
	tags := map[string]bool{}
	for _, v := range t.cfg.Volumes {
		if v.Tag != "" {
			tags[v.Tag] = true
		} else {
			want = append(want, v.Serial)
		}
	}
	if len(tags) > 0 {
		if err := loadModules(proto.VirtioFSModules, t.log); err != nil {
			return err
		}
		// A template clone's shares are PCI functions plugged into its
		// root ports after the restore; no hotplug driver announces them
		// (the guest has no _OSC grant for PCIe hotplug), so look.
		if got, err := findVirtioFS(); err == nil && len(got) < len(tags) {
			rescanPCI(t.log)
		}
		if _, err := waitFor(findVirtioFS, virtioFSWant(len(tags)), deviceTimeout); err != nil {
			return fmt.Errorf("shared file systems: %w", err)
		}
	}
	if len(want) > 0 {
		if disks, err = waitFor(func() (map[string]string, error) {
			return findByName("/sys/block/vd*", "serial")
		}, want, deviceTimeout); err != nil {
			return fmt.Errorf("volume disks: %w", err)
		}
	}
	if err := mountVolumes(&t.mounts, rootMount, t.cfg, dev); err != nil {
		return err
	}
	if t.cfg.Maintenance {
		return nil
	}
	return writeEtc(rootMount, t.cfg)
}

// runProcess starts the main process, forwards its output, waits for it
// and returns its exit code once all output is written.
func (t *tether) runProcess() (int, error) {
	pl, err := plan(t.root, t.cfg, false)
	if err != nil {
		t.proc.failed(err)
		return 0, err
	}
	s, err := openStdio(t.root, t.cfg.Process, pl.user.UID)
	if err != nil {
		t.proc.failed(err)
		return 0, fmt.Errorf("stdio: %w", err)
	}
	if err := t.proc.setPty(s.pty); err != nil {
		t.log.Warn("initial tty size", zap.Error(err))
	}
	pid, status, err := t.reaper.start(func() (int, error) { return pl.fork(t.root, s, t.cfg.Process.Tty) })
	s.closeChild()
	if err != nil {
		err = forkError(pl.path, err)
		t.proc.failed(err)
		return 0, err
	}
	t.proc.mu.Lock()
	t.proc.pid, t.proc.running, t.proc.stdin = pid, true, s.stdin
	t.proc.mu.Unlock()
	close(t.proc.started)
	t.emit(proto.Event{Name: proto.EventStarted, Pid: pid})
	t.log.Debug("process started", zap.Int("pid", pid), zap.String("path", pl.path))

	var pumps sync.WaitGroup
	t.pump(&pumps, s.stdout, proto.KindStdout)
	if s.stderr != nil {
		t.pump(&pumps, s.stderr, proto.KindStderr)
	}
	ws := <-status
	code := exitCode(ws)
	t.proc.mu.Lock()
	t.proc.running, t.proc.exited, t.proc.exitCode = false, true, code
	t.proc.mu.Unlock()
	// The container ends with its main process: whatever it left running
	// would hold the output open.
	unix.Kill(-1, unix.SIGKILL)
	pumps.Wait()
	t.emit(proto.Event{Name: proto.EventExited, ExitCode: code})
	return code, nil
}

// pump copies r into records of kind until r ends (EOF, or EIO from a pty
// master whose slave is closed).
func (t *tether) pump(wg *sync.WaitGroup, r io.Reader, kind byte) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if werr := t.rec.write(kind, buf[:n]); werr != nil {
					t.log.Warn("log port write", zap.Error(werr))
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, unix.EIO) {
					t.log.Warn("output", zap.Error(err))
				}
				return
			}
		}
	}()
}

// emit writes an event record if the log port is open.
func (t *tether) emit(ev proto.Event) {
	t.log.Debug("event", zap.String("name", ev.Name), zap.Int("pid", ev.Pid), zap.Int("exitCode", ev.ExitCode), zap.String("error", ev.Error))
	if t.rec == nil {
		return
	}
	if err := t.rec.event(ev); err != nil {
		t.log.Error("log port write", zap.Error(err))
	}
}

// fail reports a fatal error and powers off.
func (t *tether) fail(err error, code int) {
	t.log.Error("fatal", zap.Error(err))
	t.emit(proto.Event{Name: proto.EventError, Error: err.Error(), ExitCode: code})
	t.powerOff()
}

// powerOff syncs, unmounts, emits EventPowerOff and resets the VM (QEMU
// runs with -no-reboot, the kernel with reboot=t). It never returns.
func (t *tether) powerOff() {
	t.stopping.Store(true)
	t.sessions.Lock()
	unix.Kill(-1, unix.SIGKILL)
	unix.Sync()
	if _, err := os.Stat(filepath.Join(rwMount, "upper")); err == nil {
		if sz, err := (archiver{t: t}).Size(); err == nil {
			t.emit(proto.Event{Name: proto.EventSize, Size: sz.RW})
		}
	}
	if err := t.mounts.unmountAll(t.log); err != nil {
		t.log.Warn("unmount", zap.Error(err))
	}
	unix.Sync()
	t.emit(proto.Event{Name: proto.EventPowerOff})
	t.log.Debug("power off", zap.Duration("sinceBoot", sinceBoot()))
	if t.halt != nil {
		t.halt()
	}
	for {
		err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
		t.log.Error("reboot", zap.Error(err))
		time.Sleep(time.Second)
	}
}
