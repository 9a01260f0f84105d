package tether

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/archive"
	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/execspec"
	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
)

// The vSphere transport (see proto/serial.go): config from guestinfo,
// log and control channels over TCP connections to the VCH's serial
// concentrator, as ESXi's network serial ports would carry them.
//
// Tested here in govmomi's simulator, which backs a VM with a docker
// container: there the tether is PID 1 of that container (its
// entrypoint), the container's own file system (the backing image: the
// tether plus busybox) is the container root, and docker has made /proc,
// /dev and the network already, so the tether reads its config, records
// the root's baseline (diff and sizes compare with it), connects, reads
// the concentrator's boot line, sets the names and /etc files (a run
// boot), serves the control channel with archive sessions and runs the
// process (a maintenance boot runs none), and exits with the container
// (the simulator then powers the VM off). Booting the bootstrap ISO on
// ESXi (mounts, modules, NICs as in a QEMU VM) is not built.

// serialRetry is how long a serial connection is retried before a
// record is dropped (vchd restarting).
const serialRetry = time.Minute

// platformVSphere reports whether the tether runs as a vSphere container
// VM: its guestinfo carries a container ID.
func platformVSphere(src guestinfo.Source) bool {
	_, err := src.Get(proto.GuestinfoID)
	return err == nil
}

// readGuestinfoConfig reads the Config, the concentrator's address and
// the VM's token.
func readGuestinfoConfig(src guestinfo.Source) (*proto.Config, string, string, error) {
	get := func(k string) (string, error) { return src.Get(k) }
	raw, err := get(proto.GuestinfoConfig)
	if err != nil {
		return nil, "", "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", proto.GuestinfoConfig, err)
	}
	var c proto.Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", proto.GuestinfoConfig, err)
	}
	addr, err := get(proto.GuestinfoSerial)
	if err != nil {
		return nil, "", "", err
	}
	token, err := get(proto.GuestinfoToken)
	if err != nil {
		return nil, "", "", err
	}
	if len(c.Process.Args) == 0 {
		return nil, "", "", errors.New("guestinfo config without a process")
	}
	return &c, addr, token, nil
}

// serialPort is one network serial port: a TCP connection to the
// concentrator that starts with the hello line and is redialed after it
// broke.
type serialPort struct {
	addr, hello string
	mu          sync.Mutex
	conn        net.Conn
	gone        chan struct{} // closed when the concentrator closed conn
}

// watch notices the concentrator closing c (it never sends on the log
// port), so the next record goes on a new connection rather than into
// a dead one (a write to a socket the peer closed may still succeed).
func watch(c net.Conn) chan struct{} {
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(gone)
	}()
	return gone
}

func (s *serialPort) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, s.hello); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openBoot makes the port's first connection and reads the
// concentrator's boot line on it (proto.BootRun or BootMaintenance).
func (s *serialPort) openBoot(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		c, err := s.dialRetry(ctx)
		if err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := readBootLine(c)
		_ = c.SetReadDeadline(time.Time{})
		if err != nil {
			c.Close()
			if ctx.Err() != nil {
				return "", fmt.Errorf("serial concentrator %s: boot line: %w", s.addr, err)
			}
			// Refused (vchd restarting, or a token it could not
			// check yet): dial again after a pause, since every
			// hello costs the concentrator a vSphere read.
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("serial concentrator %s: boot line: %w", s.addr, err)
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		s.conn, s.gone = c, watch(c)
		return line, nil
	}
}

// readBootLine reads one line byte by byte (nothing past it).
func readBootLine(r io.Reader) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < 128 {
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			switch l := string(line); l {
			case proto.BootRun, proto.BootMaintenance:
				return l, nil
			default:
				return "", fmt.Errorf("unknown boot line %q", l)
			}
		}
		line = append(line, b[0])
	}
	return "", errors.New("boot line too long")
}

// dialRetry dials until it works or ctx ends.
func (s *serialPort) dialRetry(ctx context.Context) (net.Conn, error) {
	for {
		c, err := s.dial(ctx)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("serial concentrator %s: %w", s.addr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Write writes b whole on the connection, redialing for up to
// serialRetry (records must not interleave: the caller writes one
// record per call).
func (s *serialPort) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), serialRetry)
	defer cancel()
	for {
		if s.conn != nil {
			select {
			case <-s.gone:
				s.conn.Close()
				s.conn = nil
			default:
			}
		}
		if s.conn == nil {
			c, err := s.dialRetry(ctx)
			if err != nil {
				return 0, err
			}
			s.conn, s.gone = c, watch(c)
		}
		if _, err := s.conn.Write(b); err == nil {
			return len(b), nil
		}
		s.conn.Close()
		s.conn = nil
	}
}

// close ends the connection after what was written (no linger cut).
func (s *serialPort) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		if tc, ok := s.conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
			// Wait (bounded) for the concentrator to close its end, so
			// the last records are read before the process exits.
			select {
			case <-s.gone:
			case <-time.After(5 * time.Second):
			}
		}
		s.conn.Close()
		s.conn = nil
	}
}

// brokenConn cancels its context at the first read or write error, so
// control.Server.Serve returns and the port is redialed.
type brokenConn struct {
	net.Conn
	cancel context.CancelFunc
}

func (b brokenConn) Read(p []byte) (int, error) {
	n, err := b.Conn.Read(p)
	if err != nil {
		b.cancel()
	}
	return n, err
}

func (b brokenConn) Write(p []byte) (int, error) {
	n, err := b.Conn.Write(p)
	if err != nil {
		b.cancel()
	}
	return n, err
}

// vsphereIdentity sets the hostname and domain name and writes
// /etc/hostname, /etc/hosts and /etc/resolv.conf, as a QEMU VM's tether
// does. A docker-backed simulator VM has no CAP_SYS_ADMIN, so there the
// names stay docker's (logged); its /etc files are docker's bind mounts,
// written in place.
func (t *tether) vsphereIdentity() error {
	if err := t.identity(); err != nil {
		if !errors.Is(err, unix.EPERM) {
			return err
		}
		t.log.Warn("hostname not set (no CAP_SYS_ADMIN: a docker-backed VM)", zap.Error(err))
	}
	return writeEtc(t.root, t.cfg)
}

// nicSetup configures the VM's NICs (setupNetwork).
type nicSetup func(ifs []proto.Interface, log *zap.Logger) error

// vsphereNetwork reads the run's NICs from guestinfo (proto.GuestinfoNICs:
// MAC, address, gateway, MTU per endpoint, as the QEMU path gets them
// from its config disk) into the config and has apply configure them;
// apply nil leaves the network as it is (a docker-backed simulator VM,
// whose container shares its host's network).
func (t *tether) vsphereNetwork(src guestinfo.Source, apply nicSetup) error {
	raw, err := src.Get(proto.GuestinfoNICs)
	if errors.Is(err, guestinfo.ErrNotSet) {
		raw, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	ifs, err := proto.ParseGuestNICs(raw)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	t.cfg.Interfaces = ifs
	if ns := nicNameServers(ifs); len(ns) > 0 {
		t.cfg.DNS = ns
	}
	if apply == nil {
		t.log.Debug("NICs left as the VM's backing made them", zap.Int("nics", len(ifs)))
		return nil
	}
	return apply(ifs, t.log)
}

// vsphereLink is the tether's end of the serial concentrator: the log
// port (boot line, then records) and the control port.
type vsphereLink interface {
	// openBoot opens the log port and returns the concentrator's boot
	// line (proto.BootRun or BootMaintenance).
	openBoot(ctx context.Context) (string, error)
	// Write writes one log record whole.
	Write(b []byte) (int, error)
	// close flushes the log port before a power off.
	close()
	// serveControl serves the control channel; it never returns.
	serveControl(srv *control.Server)
}

// tcpLink dials the concentrator (a docker-backed simulator VM, whose
// tether has no serial ports and stands in for ESXi's connections).
type tcpLink struct {
	logPort *serialPort
	addr    string
	ctl     string // the control port's hello
}

func newTCPLink(addr, id, token string) *tcpLink {
	return &tcpLink{
		logPort: &serialPort{addr: addr, hello: proto.SerialHello(id, proto.PortLog, token)},
		addr:    addr,
		ctl:     proto.SerialHello(id, proto.PortControl, token),
	}
}

func (l *tcpLink) openBoot(ctx context.Context) (string, error) { return l.logPort.openBoot(ctx) }
func (l *tcpLink) Write(b []byte) (int, error)                  { return l.logPort.Write(b) }
func (l *tcpLink) close()                                       { l.logPort.close() }

func (l *tcpLink) serveControl(srv *control.Server) {
	ctl := &serialPort{addr: l.addr, hello: l.ctl}
	for {
		c, err := ctl.dialRetry(context.Background())
		if err != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		srv.Serve(ctx, brokenConn{Conn: c, cancel: cancel})
		cancel()
		c.Close()
	}
}

// vsphereBoot is what differs between the two kinds of vSphere container
// VM the tether runs in.
type vsphereBoot struct {
	// root is the container's root ("/": the docker-backed VM's own file
	// system; rootMount: a booted VM's writable disk).
	root string
	// link opens the transport (the concentrator's address from
	// guestinfo, unused on ttys).
	link func(addr, id, token string) (vsphereLink, error)
	// mount, if set, mounts the root disk and the volumes (maintenance:
	// no pseudo file systems inside the root).
	mount func(maintenance bool) error
	// applyNICs configures the run's NICs (nil: left as they are).
	applyNICs nicSetup
	// nicRequests: hot-plugged NICs (network connect) are configured.
	nicRequests bool
	// powerOff ends the VM after the tether's clean-up (or after a
	// failure before the log port is open: code is the exit code then).
	powerOff func(code int)
}

// dockerBacked is a VM of govmomi's simulator backed by a docker
// container: the tether is that container's PID 1, its root is the
// container's file system, and the container shares its host's network.
func dockerBacked() vsphereBoot {
	return vsphereBoot{
		root:     "/",
		link:     func(addr, id, token string) (vsphereLink, error) { return newTCPLink(addr, id, token), nil },
		powerOff: os.Exit,
	}
}

// runVSphere is the tether's main on the vSphere transport. It never
// returns.
func runVSphere(t *tether, src guestinfo.Source, vb vsphereBoot) {
	t.root = vb.root
	var link vsphereLink
	t.halt = func() {
		if link != nil {
			link.close()
		}
		vb.powerOff(0)
	}
	defer func() {
		if r := recover(); r != nil {
			t.fail(fmt.Errorf("tether panic: %v", r), execspec.ExitStartFailed)
		}
	}()
	if os.Getpid() != 1 {
		// The tether kills every other process of its PID namespace when
		// the main process ends: only as that namespace's init.
		t.log.Error("the tether must be PID 1 of the container", zap.Int("pid", os.Getpid()))
		os.Exit(execspec.ExitStartFailed)
	}
	cfg, addr, token, err := readGuestinfoConfig(src)
	if err != nil {
		t.log.Error("guestinfo config", zap.Error(err))
		vb.powerOff(execspec.ExitStartFailed)
	}
	t.setConfig(cfg)
	if t.reaper == nil {
		t.reaper = newReaper()
	}
	// Power off (docker stop of the backing container, a guest shutdown):
	// end everything now, as QEMU's power off.
	term := make(chan os.Signal, 1)
	signal.Notify(term, unix.SIGTERM)
	go func() {
		<-term
		t.powerOff()
	}()
	l, err := vb.link(addr, cfg.ID, token)
	if err != nil {
		t.log.Error("serial ports", zap.Error(err))
		vb.powerOff(execspec.ExitStartFailed)
	}
	bctx, cancel := context.WithTimeout(context.Background(), serialRetry)
	boot, err := l.openBoot(bctx)
	cancel()
	if err != nil {
		t.log.Error("serial concentrator", zap.Error(err))
		vb.powerOff(execspec.ExitStartFailed)
	}
	link = l
	t.cfg.Maintenance = boot == proto.BootMaintenance
	t.rec = &recordWriter{w: link}
	t.emit(proto.Event{Name: proto.EventTether})
	if vb.mount != nil {
		if err := vb.mount(t.cfg.Maintenance); err != nil {
			t.fail(err, execspec.ExitStartFailed)
		}
	}
	// The root as the first boot found it: diff and sizes compare with
	// it (the root is no overlay of ours).
	if err := archive.RecordBaseline(t.root, baselineFile, exportSkipped); err != nil {
		t.log.Warn("root baseline (docker diff will fail)", zap.Error(err))
	}
	if !t.cfg.Maintenance {
		// The NICs first: their networks' name servers go into
		// resolv.conf.
		if err := t.vsphereNetwork(src, vb.applyNICs); err != nil {
			t.fail(err, execspec.ExitStartFailed)
		}
		if err := t.vsphereIdentity(); err != nil {
			t.fail(err, execspec.ExitStartFailed)
		}
	}
	srv, err := t.controlServer()
	if err != nil {
		t.fail(err, execspec.ExitStartFailed)
	}
	if !vb.nicRequests {
		srv.NIC = nil // the simulator's containers share the host's network
	}
	srv.Archive = archiver{t: t, baseline: baselineFile}
	go link.serveControl(srv)
	t.emit(proto.Event{Name: proto.EventMounted})
	if t.cfg.Maintenance {
		// Archive sessions only, until the host's ReqPowerOff (or its
		// power off of the VM: SIGTERM above).
		select {}
	}
	code, err := t.runProcess()
	if err != nil {
		t.fail(err, execspec.ExitCode(err))
	}
	t.log.Debug("main process done", zap.Int("exitCode", code))
	t.powerOff()
}

// nicNameServers are the name servers the NICs' networks offer (the DNS
// of a user-defined network or the bridge on the endpoint's leg, which
// answers container names and forwards the rest to the container's --dns),
// once each, as the QEMU provider's resolv.conf has them; none: the
// container's own (--dns) stay.
func nicNameServers(ifs []proto.Interface) []string {
	var out []string
	for _, i := range ifs {
		for _, d := range i.DNS {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}
