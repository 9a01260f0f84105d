package vscompute

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// The serial concentrator: the VCH's end of the container VMs' network
// serial ports (ESXi: a serial port backed by tcp://VCH:PORT, direction
// client, connected by the host whenever the VM is on; the simulator's
// docker-backed VMs: the tether dials it itself). On every connection
// the concentrator writes proto.SerialProbe lines (the first after
// firstProbe, then one every proto.SerialProbeEvery) until a valid
// proto.SerialHello line arrives, ignoring every other line; the hello
// names the container, the port and the VM's token (guestinfo.vch.token,
// checked against the VM's extraConfig). The prober has stopped before
// anything else is written on the connection. PortLog connections carry log records, appended to
// LogDir/ID/output.log and read for the tether's events; PortControl
// connections carry the control handshake and the SSH session, for
// which the tetherlink client is the same as under QEMU.

// helloTimeout bounds the wait for the hello line of a new serial
// connection: ESXi connects a VM's network serial ports at power on, and
// the tether answers once its guest has booted (a minute or more under
// QEMU's TCG).
const helloTimeout = 10 * time.Minute

// firstProbe is when the first probe goes out on a new connection: soon,
// but late enough that a tether that dials the concentrator and writes
// its hello at once (the simulator's docker-backed VMs) normally meets
// none.
const firstProbe = 500 * time.Millisecond

// maxHello bounds a hello line; longer lines (a guest's noise) are
// skipped.
const maxHello = 512

const logFile = "output.log"

// hub is the concentrator's state.
type hub struct {
	p   *Provider
	ln  net.Listener
	log *zap.Logger

	mu     sync.Mutex
	ctl    map[string]*ctlSlot // by container ID
	subs   map[string][]chan tevent
	closed bool
	conns  map[net.Conn]bool
	// maint holds the containers whose VM boots for maintenance (archive
	// sessions of a container that is not running): their log port gets
	// proto.BootMaintenance.
	maint map[string]bool
	// logConns counts each container's open log connections (more than
	// one is logged: the file gets two writers).
	logConns map[string]int
	wg       sync.WaitGroup
	// accepted and probes count the connections accepted and the probe
	// lines written (for tests).
	accepted, probes atomic.Int64
}

// ctlSlot is a container's control connection: the latest the tether
// made, with the SSH client once the handshake ran.
type ctlSlot struct {
	conn   net.Conn
	client *ssh.Client
	ready  chan struct{} // closed when conn is set
	// shaking is non-nil while one caller runs the handshake on conn;
	// it is closed when that caller is done, and the others wait for it
	// rather than speak on the same connection at once.
	shaking chan struct{}
}

func startHub(p *Provider) (*hub, error) {
	ln, err := net.Listen("tcp", p.cfg.Serial)
	if err != nil {
		return nil, fmt.Errorf("serial concentrator: listen on %s: %w", p.cfg.Serial, err)
	}
	h := &hub{p: p, ln: ln, log: p.log.Named("serial"), ctl: map[string]*ctlSlot{}, subs: map[string][]chan tevent{}, conns: map[net.Conn]bool{}, maint: map[string]bool{}, logConns: map[string]int{}}
	h.wg.Add(1)
	go h.accept()
	return h, nil
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.ln.Close()
	h.wg.Wait()
}

func (h *hub) track(c net.Conn, on bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		if h.closed {
			return false
		}
		h.conns[c] = true
	} else {
		delete(h.conns, c)
	}
	return true
}

func (h *hub) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		if !h.track(c, true) {
			c.Close()
			return
		}
		h.accepted.Add(1)
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			if err := h.serve(c); err != nil {
				h.log.Debug("serial connection", zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
			}
		}()
	}
}

// readLine reads one line byte by byte (nothing past it is consumed);
// long tells that it was longer than max (only its first max bytes are
// returned; the rest was read and dropped).
func readLine(r io.Reader, max int) (line string, long bool, err error) {
	var buf []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return "", false, err
		}
		if b[0] == '\n' {
			return string(buf), long, nil
		}
		if len(buf) < max {
			buf = append(buf, b[0])
		} else {
			long = true
		}
	}
}

// prober writes proto.SerialProbe lines on c until stopped: the first
// after firstProbe, then one every proto.SerialProbeEvery.
type prober struct {
	stop chan struct{}
	done chan struct{}
}

func startProber(c net.Conn, log *zap.Logger, count *atomic.Int64) *prober {
	pr := &prober{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(pr.done)
		t := time.NewTimer(firstProbe)
		defer t.Stop()
		for {
			select {
			case <-pr.stop:
				return
			case <-t.C:
			}
			// A peer that never reads must not hold the prober (and so
			// the connection's serve) forever.
			_ = c.SetWriteDeadline(time.Now().Add(proto.SerialProbeEvery * 10))
			_, err := io.WriteString(c, proto.SerialProbe+"\n")
			_ = c.SetWriteDeadline(time.Time{})
			if err != nil {
				log.Debug("serial probe", zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
				return
			}
			count.Add(1)
			t.Reset(proto.SerialProbeEvery)
		}
	}()
	return pr
}

// end stops the prober and returns once it writes no more.
func (pr *prober) end() {
	close(pr.stop)
	<-pr.done
}

// awaitHello probes c until a valid hello line arrives (within
// helloTimeout), ignoring every other line, and returns it parsed; the
// prober has ended by then.
func (h *hub) awaitHello(c net.Conn) (id, port, token string, err error) {
	pr := startProber(c, h.log, &h.probes)
	defer pr.end()
	_ = c.SetReadDeadline(time.Now().Add(helloTimeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	for {
		line, long, err := readLine(c, maxHello)
		if err != nil {
			return "", "", "", fmt.Errorf("no serial hello: %w", err)
		}
		if long {
			h.log.Debug("serial: an overlong line before the hello skipped", zap.String("remote", c.RemoteAddr().String()))
			continue
		}
		id, port, token, err := proto.ParseSerialHello(line)
		if err != nil {
			// The guest's noise before its tether speaks (or an echo).
			continue
		}
		return id, port, token, nil
	}
}

func (h *hub) serve(c net.Conn) error {
	id, port, token, err := h.awaitHello(c)
	if err == nil {
		err = h.check(id, token)
	}
	if err != nil {
		h.track(c, false)
		c.Close()
		return err
	}
	if port == proto.PortControl {
		h.setControl(id, c)
		return nil
	}
	defer func() { h.track(c, false); c.Close() }()
	boot := proto.BootRun
	h.mu.Lock()
	if h.maint[id] {
		boot = proto.BootMaintenance
	}
	h.mu.Unlock()
	if _, err := io.WriteString(c, boot+"\n"); err != nil {
		return fmt.Errorf("container %s: boot line: %w", id, err)
	}
	return h.readLog(id, c)
}

// check compares token with the VM's.
func (h *hub) check(id, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := h.p.find(ctx, id)
	if err != nil {
		return err
	}
	if c.token == "" || subtle.ConstantTimeCompare([]byte(c.token), []byte(token)) != 1 {
		return fmt.Errorf("container %s: wrong serial token", id)
	}
	return nil
}

func (h *hub) logPath(id string) string { return filepath.Join(h.p.cfg.LogDir, id, logFile) }

// readLog appends the whole records read from c to the container's log
// and handles its events.
func (h *hub) readLog(id string, c net.Conn) error {
	if err := os.MkdirAll(filepath.Dir(h.logPath(id)), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(h.logPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	h.mu.Lock()
	h.logConns[id]++
	others := h.logConns[id] - 1
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		if h.logConns[id]--; h.logConns[id] <= 0 {
			delete(h.logConns, id)
		}
		h.mu.Unlock()
	}()
	if others > 0 {
		h.log.Warn("a second log connection of one container", zap.String("id", id), zap.Int("open", others+1))
	}
	var poweredOff bool
	skipped, err := appendRecords(c, f, func(ev tevent) {
		poweredOff = poweredOff || ev.Name == proto.EventPowerOff
		h.event(id, ev)
	})
	if skipped > 0 {
		h.log.Debug("bytes between log records skipped", zap.String("id", id), zap.Int("bytes", skipped))
	}
	if !poweredOff {
		// A connection lost while the VM runs: what the tether writes
		// until its port is connected again is lost.
		h.log.Info("log connection ended before the VM's power-off", zap.String("id", id), zap.Error(err))
	}
	if err != nil {
		return fmt.Errorf("container %s: log: %w", id, err)
	}
	return nil
}

// syncWriter is a log file.
type syncWriter interface {
	io.Writer
	Sync() error
}

// appendRecords copies the whole records read from r to log and hands
// each event record to event, until r ends. The log is synced before an
// exit (or a failed start) is handed on, and at the end: once a
// container's exit is known, its output survives the VCH's power-off
// (vic-machine configure and upgrade power the endpoint VM off hard). It
// returns how many bytes it skipped that were not whole records (hello
// lines the tether answered to late probes, or damage).
func appendRecords(r io.Reader, log syncWriter, event func(tevent)) (skipped int, err error) {
	var pending []byte
	buf := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(buf)
		pending = append(pending, buf[:n]...)
		i := 0
		for i < len(pending) {
			rec, m, err := proto.DecodeRecord(pending[i:])
			if errors.Is(err, proto.ErrShortRecord) {
				break
			}
			if err != nil {
				i++ // not a record boundary
				skipped++
				continue
			}
			if _, err := log.Write(pending[i : i+m]); err != nil {
				return skipped, err
			}
			i += m
			if rec.Kind != proto.KindEvent {
				continue
			}
			var ev proto.Event
			if json.Unmarshal(rec.Data, &ev) != nil {
				continue
			}
			if ev.Name == proto.EventExited || ev.Name == proto.EventError {
				if err := log.Sync(); err != nil {
					return skipped, err
				}
			}
			event(tevent{Event: ev, At: rec.Time})
		}
		pending = append(pending[:0], pending[i:]...)
		if rerr != nil {
			if err := log.Sync(); err != nil {
				return skipped, err
			}
			if errors.Is(rerr, io.EOF) {
				return skipped, nil
			}
			return skipped, rerr
		}
	}
}

// tevent is an event with the guest's time of it.
type tevent struct {
	proto.Event
	At time.Time
}

// event hands an event to Start's waiters and records an exit.
func (h *hub) event(id string, ev tevent) {
	h.mu.Lock()
	for _, ch := range h.subs[id] {
		select {
		case ch <- ev:
		default:
		}
	}
	h.mu.Unlock()
	if ev.Name == proto.EventExited {
		h.p.recordExit(id, ev)
	}
}

// subscribe returns a channel of id's next events; cancel ends it.
func (h *hub) subscribe(id string) (<-chan tevent, func()) {
	ch := make(chan tevent, 16)
	h.mu.Lock()
	h.subs[id] = append(h.subs[id], ch)
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		list := h.subs[id]
		for i, c := range list {
			if c == ch {
				h.subs[id] = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(h.subs[id]) == 0 {
			delete(h.subs, id)
		}
	}
}

func (h *hub) setControl(id string, c net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.ctl[id]
	if s == nil {
		s = &ctlSlot{ready: make(chan struct{})}
		h.ctl[id] = s
	}
	if s.client != nil {
		s.client.Close()
		s.client = nil
	}
	if s.conn != nil {
		s.conn.Close()
		delete(h.conns, s.conn)
	} else {
		close(s.ready)
	}
	s.conn = c
}

// dropControl forgets id's control connection (the VM is off).
func (h *hub) dropControl(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.ctl[id]; s != nil {
		if s.client != nil {
			s.client.Close()
		}
		if s.conn != nil {
			s.conn.Close()
			delete(h.conns, s.conn)
		}
		delete(h.ctl, id)
	}
}

// client returns an SSH client on id's control connection, waiting (up
// to ctx) for the tether to connect; hostKey pins the tether's key.
func (h *hub) client(ctx context.Context, id string, hostKey ssh.PublicKey) (*ssh.Client, error) {
	for {
		h.mu.Lock()
		s := h.ctl[id]
		if s == nil {
			s = &ctlSlot{ready: make(chan struct{})}
			h.ctl[id] = s
		}
		if s.client != nil {
			cl := s.client
			h.mu.Unlock()
			return cl, nil
		}
		conn, ready, shaking := s.conn, s.ready, s.shaking
		if conn != nil && shaking == nil {
			s.shaking = make(chan struct{})
		}
		h.mu.Unlock()
		if conn == nil || shaking != nil {
			if shaking != nil {
				ready = shaking
			}
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("container %s: the tether's control channel did not connect: %w", id, errdefs.ErrUnavailable)
			}
		}
		cl, err := tetherlink.Handshake(ctx, conn, hostKey)
		h.mu.Lock()
		close(s.shaking)
		s.shaking = nil
		if s.conn != conn {
			// Replaced meanwhile: use the new one.
			h.mu.Unlock()
			if cl != nil {
				cl.Close()
			}
			continue
		}
		if err != nil {
			conn.Close()
			delete(h.conns, conn)
			s.conn, s.ready = nil, make(chan struct{})
			h.mu.Unlock()
			return nil, fmt.Errorf("container %s: control channel: %w", id, err)
		}
		s.client = cl
		h.mu.Unlock()
		go func() {
			_ = cl.Wait()
			h.mu.Lock()
			if s.client == cl {
				delete(h.conns, s.conn)
				s.client, s.conn, s.ready = nil, nil, make(chan struct{})
			}
			h.mu.Unlock()
		}()
		return cl, nil
	}
}

// setMaintenance marks (or unmarks) id's next boots as maintenance boots.
func (h *hub) setMaintenance(id string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if on {
		h.maint[id] = true
	} else {
		delete(h.maint, id)
	}
}

// inMaintenance tells whether id's VM is (being) booted for maintenance.
func (h *hub) inMaintenance(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.maint[id]
}

// sioKey is the key of the SIO controller every vSphere VM has (ESXi's
// default device "SIO controller 0"), on which serial ports sit.
const sioKey = 400

// ConsoleFile is the console log's name in the VM's folder.
const ConsoleFile = "console.log"

// serialPorts are a new VM's serial ports, in the guest's order
// (proto.TTYConsole, TTYLog, TTYControl): serial0 a file in the VM's
// folder on the datastore (the kernel's and the tether's console), serial1
// and serial2 network serial ports that the host connects to the
// concentrator (direction client, tcp://: a raw byte stream, no telnet
// escaping of the SSH bytes) whenever the VM is on. Their unit numbers
// on the SIO controller fix the order.
func (p *Provider) serialPorts(folder string) []types.BaseVirtualDevice {
	port := func(unit int32, b types.BaseVirtualDeviceBackingInfo) types.BaseVirtualDevice {
		return &types.VirtualSerialPort{
			VirtualDevice: types.VirtualDevice{
				ControllerKey: sioKey,
				UnitNumber:    types.NewInt32(unit),
				Backing:       b,
				Connectable:   &types.VirtualDeviceConnectInfo{StartConnected: true, AllowGuestControl: true},
			},
			YieldOnPoll: true,
		}
	}
	uri := func() types.BaseVirtualDeviceBackingInfo {
		return &types.VirtualSerialPortURIBackingInfo{VirtualDeviceURIBackingInfo: types.VirtualDeviceURIBackingInfo{
			ServiceURI: "tcp://" + p.serialAddr(),
			Direction:  string(types.VirtualDeviceURIBackingOptionDirectionClient),
		}}
	}
	console := &types.VirtualSerialPortFileBackingInfo{VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{
		FileName: fmt.Sprintf("[%s] %s/%s", p.cfg.Datastore, folder, ConsoleFile),
	}}
	return []types.BaseVirtualDevice{port(0, console), port(1, uri()), port(2, uri())}
}
