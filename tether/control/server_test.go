package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/control/controltest"
	"github.com/vchproject/vch/tether/proto"
)

// fakeProc records what the server asks of the process.
type fakeProc struct {
	mu      sync.Mutex
	signals []int
	size    [2]uint16
	stdin   *stdinBuf
	noStdin bool
}

type stdinBuf struct {
	mu     sync.Mutex
	data   strings.Builder
	closed chan struct{}
}

func (b *stdinBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.data.Write(p)
}
func (b *stdinBuf) Close() error { close(b.closed); return nil }

func (f *fakeProc) Signal(sig int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, sig)
	return nil
}
func (f *fakeProc) Resize(r, c uint16) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r == 0 {
		return errors.New("no tty")
	}
	f.size = [2]uint16{r, c}
	return nil
}
func (f *fakeProc) State() proto.StateReply { return proto.StateReply{Running: true, Pid: 42} }
func (f *fakeProc) Stdin() (io.WriteCloser, bool, error) {
	if f.noStdin {
		return nil, false, errors.New("stdin is not open")
	}
	return f.stdin, true, nil
}

// dialHost is the host side of proto's handshake on c, then an SSH client
// pinning pub.
func dialHost(t *testing.T, c net.Conn, pub ssh.PublicKey) *ssh.Client {
	t.Helper()
	// The handshake, ours and SSH's, has a deadline: a server that never
	// answers fails the test instead of blocking it. Cleared once connected.
	if err := c.SetDeadline(time.Now().Add(testBound)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	stopNudge := make(chan struct{})
	nudged := proto.Nudge(c, stopNudge)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for hello: %v", err)
		}
		if strings.HasSuffix(l, proto.HelloLine) {
			break
		}
	}
	close(stopNudge)
	<-nudged
	if _, err := io.WriteString(c, proto.GoLine); err != nil {
		t.Fatal(err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for ack: %v", err)
		}
		if l == proto.AckLine {
			break
		}
	}
	cc, chans, reqs, err := ssh.NewClientConn(&bufConn{Conn: c, r: br}, "tether", &ssh.ClientConfig{
		User: "vch", HostKeyCallback: ssh.FixedHostKey(pub), Timeout: 0,
	})
	if err != nil {
		t.Fatalf("ssh handshake: %v", err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	return ssh.NewClient(cc, chans, reqs)
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// pipePort is a port whose host side can be replaced: reads return EOF
// while no host is attached, as a virtio-serial port does.
type pipePort struct {
	mu    sync.Mutex
	guest net.Conn
	ready chan struct{} // closed when a host attaches
	gone  chan struct{} // closed when the guest has seen the host go
	down  chan struct{} // closed when the port goes away: writes fail
}

// socketPair is a buffered, connected pair (net.Pipe is unbuffered, and
// both SSH ends write their version line first).
func socketPair(t *testing.T) (net.Conn, net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = c
	}
	return cs[0], cs[1]
}

func newPipePort() *pipePort {
	p := &pipePort{ready: make(chan struct{}), gone: make(chan struct{}), down: make(chan struct{})}
	close(p.gone)
	return p
}

func (p *pipePort) attach(t *testing.T) net.Conn {
	g, h := socketPair(t)
	p.mu.Lock()
	gone := p.gone
	p.mu.Unlock()
	recv(t, gone, "the guest reading EOF from the earlier host")
	p.mu.Lock()
	p.guest = g
	p.gone = make(chan struct{})
	close(p.ready)
	p.mu.Unlock()
	return h
}

func (p *pipePort) conn() net.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.guest
}

func (p *pipePort) Read(b []byte) (int, error) {
	c := p.conn()
	if c == nil {
		return 0, io.EOF
	}
	n, err := c.Read(b)
	if err != nil {
		p.mu.Lock()
		if p.guest == c {
			p.guest = nil
			p.ready = make(chan struct{})
			close(p.gone)
		}
		p.mu.Unlock()
		return n, io.EOF
	}
	return n, nil
}

func (p *pipePort) Write(b []byte) (int, error) {
	for {
		p.mu.Lock()
		c, ready := p.guest, p.ready
		p.mu.Unlock()
		if c == nil {
			// A write blocks until a host is connected, or until the
			// port goes away.
			select {
			case <-ready:
			case <-p.down:
				return 0, io.ErrClosedPipe
			}
			continue
		}
		return c.Write(b)
	}
}

func TestServe(t *testing.T) {
	pemKey, pub := controltest.HostKey(t)
	proc := &fakeProc{stdin: &stdinBuf{closed: make(chan struct{})}}
	var clock []int64
	var clockMu sync.Mutex
	srv, err := NewServer(pemKey, proc, func(ns int64) error {
		clockMu.Lock()
		defer clockMu.Unlock()
		clock = append(clock, ns)
		return nil
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv.HelloInterval = 5 * time.Millisecond
	srv.MinBackoff, srv.MaxBackoff = time.Millisecond, 5*time.Millisecond
	port := newPipePort()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		srv.Serve(ctx, port)
		close(served)
	}()

	// Two host sessions in a row: the tether starts over after EOF.
	for session := 0; session < 2; session++ {
		h := port.attach(t)
		if session == 1 {
			// Bytes that a previous host session left in flight reach
			// the guest before anything the next host writes: QEMU
			// serves one chardev connection at a time, in order. So
			// they precede this session's go line, on the same line.
			// (Written synchronously: the socket pair buffers them.)
			if _, err := io.WriteString(h, "stale"); err != nil {
				t.Fatal(err)
			}
		}
		client := dialHost(t, h, pub)

		req := func(typ string, v any) (bool, []byte) {
			t.Helper()
			var b []byte
			if v != nil {
				b, _ = json.Marshal(v)
			}
			ok, reply, err := client.SendRequest(typ, true, b)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			return ok, reply
		}
		if ok, _ := req(proto.ReqSignal, proto.SignalRequest{Signal: 15}); !ok {
			t.Fatal("signal refused")
		}
		if ok, _ := req(proto.ReqResize, proto.ResizeRequest{Rows: 24, Cols: 80}); !ok {
			t.Fatal("resize refused")
		}
		if ok, msg := req(proto.ReqResize, proto.ResizeRequest{}); ok || string(msg) != "no tty" {
			t.Fatalf("failing resize: %v %q", ok, msg)
		}
		if ok, _ := req(proto.ReqTime, proto.TimeRequest{UnixNano: 1234}); !ok {
			t.Fatal("time refused")
		}
		ok, reply := req(proto.ReqState, nil)
		var st proto.StateReply
		if err := json.Unmarshal(reply, &st); !ok || err != nil || st != (proto.StateReply{Running: true, Pid: 42}) {
			t.Fatalf("state: %v %s %v", ok, reply, err)
		}
		if ok, _ := req("nonsense", nil); ok {
			t.Fatal("unknown request accepted")
		}
		if _, _, err := client.OpenChannel("session", nil); err == nil {
			t.Fatal("unknown channel accepted")
		}
		if session == 1 {
			// A bare EOF (what a vchd that died leaves) keeps the
			// process's stdin open: the later EOF closes it once.
			bare, breqs, err := client.OpenChannel(proto.ChanStdin, nil)
			if err != nil {
				t.Fatal(err)
			}
			go ssh.DiscardRequests(breqs)
			io.WriteString(bare, "bare\n")
			bare.CloseWrite()
			io.Copy(io.Discard, bare) // until the tether is done with it
			select {
			case <-proc.stdin.closed:
				t.Fatal("a bare EOF closed the process's stdin")
			default:
			}
			ch, reqs, err := client.OpenChannel(proto.ChanStdin, nil)
			if err != nil {
				t.Fatal(err)
			}
			go ssh.DiscardRequests(reqs)
			io.WriteString(ch, "hello\n")
			if ok, err := ch.SendRequest(proto.ReqStdinEOF, true, nil); !ok || err != nil {
				t.Fatalf("stdin EOF request: %v %v", ok, err)
			}
			ch.CloseWrite()
			recv(t, proc.stdin.closed, "the process's stdin closed by the stdin EOF request")
			if got := proc.stdin.data.String(); got != "bare\nhello\n" {
				t.Fatalf("stdin got %q", got)
			}
			proc.noStdin = true
			if _, _, err := client.OpenChannel(proto.ChanStdin, nil); err == nil {
				t.Fatal("stdin channel accepted without stdin")
			}
		}
		if session == 1 {
			cancel()
		}
		client.Close()
		h.Close()
	}
	// A late write of the last session (a channel close still in
	// flight when the guest read the host's EOF) waits for a next host,
	// as on a virtio-serial port, and holds the SSH transport that the
	// session's end closes. No host comes: the port goes away.
	close(port.down)
	recv(t, served, "Serve's end after the context's")
	proc.mu.Lock()
	defer proc.mu.Unlock()
	if len(proc.signals) != 2 || proc.signals[0] != 15 || proc.size != [2]uint16{24, 80} {
		t.Fatalf("process saw signals %v size %v", proc.signals, proc.size)
	}
	clockMu.Lock()
	defer clockMu.Unlock()
	if len(clock) != 2 || clock[0] != 1234 {
		t.Fatalf("clock set %v", clock)
	}
}

// TestPortConnClosed: once a session's conn is closed, its late writes
// fail and never reach the port, where the next session's handshake runs.
func TestPortConnClosed(t *testing.T) {
	var port bytes.Buffer
	c := &portConn{rw: &port}
	if _, err := c.Write([]byte("in session")); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("late write: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("late read: %v", err)
	}
	if port.String() != "in session" {
		t.Fatalf("port got %q", port.String())
	}
}

// detachable is a host's end of the port that the host can abandon without
// closing it, as when vchd dies and a new one connects at once: the guest
// never reads EOF.
type detachable struct {
	net.Conn
	gone atomic.Bool
}

func (d *detachable) Read(p []byte) (int, error) {
	if d.gone.Load() {
		return 0, net.ErrClosed
	}
	return d.Conn.Read(p)
}

func (d *detachable) Write(p []byte) (int, error) {
	if d.gone.Load() {
		return 0, net.ErrClosed
	}
	return d.Conn.Write(p)
}

func (d *detachable) Close() error { d.gone.Store(true); return nil }

// TestServeHostReturnsUnnoticed: a host comes back on a port whose guest is
// still in the earlier host's SSH session and sends no hello. The new
// host's nudges end that session and the handshake runs again.
func TestServeHostReturnsUnnoticed(t *testing.T) {
	pemKey, pub := controltest.HostKey(t)
	srv, err := NewServer(pemKey, &fakeProc{}, func(int64) error { return nil }, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	srv.HelloInterval = 5 * time.Millisecond
	srv.MinBackoff, srv.MaxBackoff = time.Millisecond, 5*time.Millisecond
	g, h := socketPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		srv.Serve(ctx, g)
		close(served)
	}()
	defer func() {
		cancel()
		g.Close()
		h.Close()
		recv(t, served, "Serve's end after the context's")
	}()

	first := &detachable{Conn: h}
	c1 := dialHost(t, first, pub)
	if ok, _, err := c1.SendRequest(proto.ReqState, true, nil); err != nil || !ok {
		t.Fatalf("first host: %v %v", ok, err)
	}
	// The first host vanishes: its reads stop at once, nothing reaches the
	// guest, and the guest's SSH server waits for its next packet.
	first.gone.Store(true)
	if err := h.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	// c1's reader may have passed detachable's check before gone was
	// set: its read of h ends at the deadline, and only then may the
	// deadline go (else it would take the guest's answers to c2).
	c1.Wait()
	if err := h.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}

	c2 := dialHost(t, h, pub)
	defer c2.Close()
	ok, reply, err := c2.SendRequest(proto.ReqState, true, nil)
	if err != nil || !ok || !strings.Contains(string(reply), `"pid":42`) {
		t.Fatalf("second host: %v %s %v", ok, reply, err)
	}
}
