package tether

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/control"
	"github.com/vchproject/vch/tether/control/controltest"
	"github.com/vchproject/vch/tether/proto"
)

func TestLineSplitter(t *testing.T) {
	var sp lineSplitter
	var got []string
	add := func(l string) { got = append(got, l) }
	sp.feed([]byte("ab"), add)
	sp.feed([]byte("c\nde\n\nf"), add)
	sp.feed([]byte(strings.Repeat("x", maxTTYLine+1)), add)
	sp.feed([]byte("y\ng\n"), add)
	want := []string{"abc", "de", "", "g"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", got, want)
	}
	if !isProbe("\x00\xffstale"+proto.SerialProbe) || !isProbe(proto.SerialProbe+"\r") || isProbe(proto.SerialProbe+"x") {
		t.Fatal("isProbe")
	}
	var h helloLimiter
	t0 := time.Unix(100, 0)
	if !h.allow(t0) || h.allow(t0.Add(helloGap-1)) || !h.allow(t0.Add(helloGap)) {
		t.Fatal("one hello per helloGap")
	}
}

// serialRelay stands in for the hypervisor's network serial port (ESXi's
// tcp:// backing, QEMU's socket chardev with reconnect): it connects the
// UART's far end (a pty master) to addr, connects again whenever the
// connection ends, and drops what the guest writes while no connection
// is up.
type serialRelay struct {
	master *os.File
	addr   string
	out    chan []byte
	done   chan struct{}
}

func startRelay(t *testing.T, master *os.File, addr string) {
	r := &serialRelay{master: master, addr: addr, out: make(chan []byte, 64), done: make(chan struct{})}
	t.Cleanup(func() { close(r.done) })
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			if n > 0 {
				r.out <- append([]byte(nil), b[:n]...)
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		for {
			select {
			case <-r.done:
				return
			default:
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			gone := make(chan struct{})
			go func() {
				_, _ = io.Copy(master, c)
				close(gone)
			}()
		pump:
			for {
				select {
				case b := <-r.out:
					if _, err := c.Write(b); err != nil {
						break pump
					}
				case <-gone:
					break pump
				case <-r.done:
					c.Close()
					return
				}
			}
			c.Close()
		}
	}()
}

// probeUntil plays the concentrator's side of a new serial connection: a
// probe line every 50 ms until the line want arrives (read byte by byte,
// so nothing after it is consumed); other lines are ignored.
func probeUntil(t *testing.T, c net.Conn, want string) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := io.WriteString(c, proto.SerialProbe+"\n"); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	defer c.SetReadDeadline(time.Time{})
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if b[0] != '\n' {
			line = append(line, b[0])
			continue
		}
		if string(line)+"\n" == want {
			return
		}
		line = line[:0]
	}
}

func ptyPair(t *testing.T) (master *os.File, slave *os.File) {
	t.Helper()
	m, s, err := openPty("/dev/ptmx")
	if err != nil {
		t.Fatal(err)
	}
	if err := makeRaw(int(s.Fd())); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestTTYLinkThroughASerialRelay(t *testing.T) {
	log := zaptest.NewLogger(t)
	id := strings.Repeat("ab", 32)
	token := strings.Repeat("0f", 16)
	logHello := proto.SerialHello(id, proto.PortLog, token)
	ctlHello := proto.SerialHello(id, proto.PortControl, token)

	logLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer logLn.Close()
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ctlLn.Close()
	logMaster, logSlave := ptyPair(t)
	ctlMaster, ctlSlave := ptyPair(t)
	link := &ttyLink{
		log: newTTYLog(logSlave, logHello, log),
		ctl: newTTYControl(ctlSlave, ctlHello, log),
	}
	startRelay(t, logMaster, logLn.Addr().String())
	startRelay(t, ctlMaster, ctlLn.Addr().String())
	accept := func(ln net.Listener) net.Conn {
		t.Helper()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// The log port: the hello answers a probe, the boot line comes back.
	booted := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		line, err := link.openBoot(ctx)
		if err != nil {
			t.Error(err)
		}
		booted <- line
	}()
	lc := accept(logLn)
	probeUntil(t, lc, logHello)
	if _, err := io.WriteString(lc, proto.BootMaintenance+"\n"); err != nil {
		t.Fatal(err)
	}
	if got := <-booted; got != proto.BootMaintenance {
		t.Fatalf("boot line %q", got)
	}
	// Records cross the UART byte for byte: no CR/LF translation, no
	// signal characters, no flow control, no 0xff escaping.
	record := []byte("rec\r\n\x03\x11\x13\x1a\x7f\xff\x00end")
	readRecord := func(c net.Conn) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, 0, len(record))
		b := make([]byte, 64)
		for !bytes.Contains(got, record) {
			n, err := c.Read(b)
			if err != nil {
				t.Fatalf("record: %v (read %q)", err, got)
			}
			got = append(got, b[:n]...)
		}
	}
	if _, err := link.Write(record); err != nil {
		t.Fatal(err)
	}
	readRecord(lc)

	// The concentrator restarts: its new connection is probed until the
	// tether says hello again, and records follow on it.
	lc.Close()
	lc = accept(logLn)
	probeUntil(t, lc, logHello)
	if _, err := link.Write(record); err != nil {
		t.Fatal(err)
	}
	readRecord(lc)

	// The control port: the hello answers a probe, then the control
	// handshake and SSH; twice, the second after the connection broke.
	pemKey, pub := controltest.HostKey(t)
	proc := newMainProcess()
	srv, err := control.NewServer(pemKey, proc, func(int64) error { return nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	srv.MinBackoff, srv.MaxBackoff = time.Millisecond, 10*time.Millisecond
	go link.serveControl(srv)
	for session := 0; session < 2; session++ {
		cc := accept(ctlLn)
		probeUntil(t, cc, ctlHello)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		client, err := tetherlink.Handshake(ctx, cc, pub)
		cancel()
		if err != nil {
			t.Fatalf("session %d: %v", session, err)
		}
		ok, reply, err := client.SendRequest(proto.ReqState, true, nil)
		var st proto.StateReply
		if err != nil || !ok || json.Unmarshal(reply, &st) != nil {
			t.Fatalf("session %d: state: %v %v %s", session, ok, err, reply)
		}
		cc.Close()
	}
}
