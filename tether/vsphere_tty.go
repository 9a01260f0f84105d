package tether

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/proto"
)

// A VM's network serial ports seen from the guest: ttys whose far end is
// the VCH's serial concentrator, through the hypervisor (ESXi's
// tcp://VCH:PORT serial port backing; QEMU's socket chardev standing in
// for it). Nothing tells the guest when the hypervisor connects or the
// concentrator restarts, so the guest answers the concentrator's probes
// (proto.SerialProbe) with its hello line (see proto/serial.go).

// maxTTYLine bounds a line read from a serial tty; longer ones are
// discarded (an SSH stream, not a line).
const maxTTYLine = 256

// openTTY opens a serial tty in raw mode: 8 bits, no echo, no line
// discipline, no flow control, modem lines ignored (CLOCAL), 115200 baud
// (a virtual UART ignores the rate).
func openTTY(dev string) (*os.File, error) {
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dev, err)
	}
	if err := makeRaw(fd); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: raw mode: %w", dev, err)
	}
	return os.NewFile(uintptr(fd), dev), nil
}

func makeRaw(fd int) error {
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS | unix.CBAUD
	tio.Cflag |= unix.CS8 | unix.CLOCAL | unix.CREAD | unix.B115200
	tio.Ispeed, tio.Ospeed = unix.B115200, unix.B115200
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, tio)
}

// lineSplitter cuts a byte stream into lines (without "\n"), dropping
// lines longer than maxTTYLine.
type lineSplitter struct {
	buf  []byte
	long bool
}

func (s *lineSplitter) feed(b []byte, line func(string)) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			s.add(b)
			return
		}
		s.add(b[:i])
		if !s.long {
			line(string(s.buf))
		}
		s.buf, s.long = s.buf[:0], false
		b = b[i+1:]
	}
}

func (s *lineSplitter) add(b []byte) {
	if s.long || len(s.buf)+len(b) > maxTTYLine {
		s.buf, s.long = s.buf[:0], true
		return
	}
	s.buf = append(s.buf, b...)
}

// isProbe reports a probe line; stale bytes (an SSH stream the
// concentrator's new connection cut) may precede it on the line.
func isProbe(line string) bool {
	return strings.HasSuffix(strings.TrimSuffix(line, "\r"), proto.SerialProbe)
}

// helloGap is the least time between two hellos a tether says in answer
// to probes: the probes a concentrator sent while the guest was booting
// (or while its UART was full) arrive at once, and one hello answers
// them all.
const helloGap = proto.SerialProbeEvery / 2

// helloLimiter lets one answer through per helloGap.
type helloLimiter struct{ last time.Time }

func (h *helloLimiter) allow(now time.Time) bool {
	if !h.last.IsZero() && now.Sub(h.last) < helloGap {
		return false
	}
	h.last = now
	return true
}

// ttyLog is the log port on a serial tty: records go out whole, a probe
// is answered with the hello between two records, and the first boot line
// is handed to openBoot.
type ttyLog struct {
	f     io.ReadWriteCloser
	hello string
	log   *zap.Logger

	wmu   sync.Mutex // one record or hello at a time
	limit helloLimiter
	boot  chan string
	once  sync.Once
}

func newTTYLog(f io.ReadWriteCloser, hello string, log *zap.Logger) *ttyLog {
	l := &ttyLog{f: f, hello: hello, log: log, boot: make(chan string, 1)}
	go l.read()
	return l
}

func (l *ttyLog) read() {
	var sp lineSplitter
	b := make([]byte, 512)
	for {
		n, err := l.f.Read(b)
		sp.feed(b[:n], func(line string) {
			switch {
			case isProbe(line):
				l.answerProbe()
			case line == proto.BootRun || line == proto.BootMaintenance:
				l.once.Do(func() { l.boot <- line })
			}
		})
		if err != nil {
			l.log.Debug("log port read", zap.Error(err))
			return
		}
	}
}

func (l *ttyLog) answerProbe() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.limit.allow(time.Now()) {
		l.writeHello()
	}
}

func (l *ttyLog) sayHello() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.limit.last = time.Now()
	l.writeHello()
}

// writeHello writes the hello; the caller holds wmu.
func (l *ttyLog) writeHello() {
	if _, err := io.WriteString(l.f, l.hello); err != nil {
		l.log.Warn("log port hello", zap.Error(err))
	}
}

// openBoot says hello at once (the hypervisor may have connected
// already) and waits for the boot line.
func (l *ttyLog) openBoot(ctx context.Context) (string, error) {
	l.sayHello()
	select {
	case line := <-l.boot:
		return line, nil
	case <-ctx.Done():
		return "", fmt.Errorf("serial log port: no boot line from the concentrator: %w", ctx.Err())
	}
}

// Write writes one record whole.
func (l *ttyLog) Write(b []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.f.Write(b)
}

// close waits until what was written has left the UART (the last records
// before a power off).
func (l *ttyLog) close() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if f, ok := l.f.(*os.File); ok {
		// TCSBRK with a nonzero argument is tcdrain.
		_ = unix.IoctlSetInt(int(f.Fd()), unix.TCSBRK, 1)
	}
}

// ttyControl is the control port on a serial tty, for control.Server's
// Serve: during a handshake (from the tether's HelloLine to its AckLine)
// a probe line is answered with the serial hello, so a new connection of
// the concentrator learns who is speaking; during an SSH session bytes
// pass untouched (a new connection's probes break the session, Serve
// starts a handshake again, and the next probe is answered).
type ttyControl struct {
	f     io.ReadWriter
	hello string
	log   *zap.Logger

	wmu       sync.Mutex
	handshake bool
	sp        lineSplitter
	limit     helloLimiter
}

func newTTYControl(f io.ReadWriter, hello string, log *zap.Logger) *ttyControl {
	return &ttyControl{f: f, hello: hello, log: log, handshake: true}
}

func (c *ttyControl) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.handshake && n > 0 {
		probed := false
		c.sp.feed(b[:n], func(line string) { probed = probed || isProbe(line) })
		if probed && c.limit.allow(time.Now()) {
			if _, werr := io.WriteString(c.f, c.hello); werr != nil {
				c.log.Warn("control port hello", zap.Error(werr))
			}
		}
	}
	return n, err
}

func (c *ttyControl) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case bytes.Equal(b, []byte(proto.HelloLine)):
		c.handshake = true
	case bytes.Equal(b, []byte(proto.AckLine)):
		c.handshake = false
		c.sp = lineSplitter{}
	}
	return c.f.Write(b)
}

// ttyLink is the vSphere transport of a booted VM: the log and control
// ports on the ttys proto.TTYLog and proto.TTYControl.
type ttyLink struct {
	log  *ttyLog
	ctl  *ttyControl
	zlog *zap.Logger
}

func openTTYLink(id, token string, log *zap.Logger) (*ttyLink, error) {
	lf, err := openTTY("/dev/" + proto.TTYLog)
	if err != nil {
		return nil, err
	}
	cf, err := openTTY("/dev/" + proto.TTYControl)
	if err != nil {
		lf.Close()
		return nil, err
	}
	return &ttyLink{
		log:  newTTYLog(lf, proto.SerialHello(id, proto.PortLog, token), log),
		ctl:  newTTYControl(cf, proto.SerialHello(id, proto.PortControl, token), log),
		zlog: log,
	}, nil
}

func (l *ttyLink) openBoot(ctx context.Context) (string, error) { return l.log.openBoot(ctx) }
func (l *ttyLink) Write(b []byte) (int, error)                  { return l.log.Write(b) }
func (l *ttyLink) close()                                       { l.log.close() }
func (l *ttyLink) serveControl(srv *control.Server) {
	srv.Serve(context.Background(), l.ctl)
}
