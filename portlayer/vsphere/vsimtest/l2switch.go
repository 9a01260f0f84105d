package vsimtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"

	"go.uber.org/zap"
)

// portSwitch is one port group of a QEMUHost: a learning Ethernet switch
// on a loopback TCP listener. Each QEMU NIC on the port group connects to
// it (-netdev socket,connect=ADDR), and so can anything else that speaks
// QEMU's stream framing: every frame is a 4-byte big-endian length and
// the frame. A frame goes to the port its destination MAC was last seen
// on, else (broadcast, multicast, unknown) to every other port; a port
// that cannot keep up loses frames, as a real switch's full queue does.
type portSwitch struct {
	name string
	ln   net.Listener
	log  *zap.Logger

	mu     sync.Mutex
	ports  map[*switchPort]bool
	macs   map[[6]byte]*switchPort
	closed bool // a connection accepted after Close is not a port
	wg     sync.WaitGroup
}

type switchPort struct {
	conn net.Conn
	out  chan []byte
}

// maxFrame bounds a frame (a jumbo frame and its headers).
const maxFrame = 65536

// portQueue is how many frames wait for a slow port before it loses some.
const portQueue = 512

func newPortSwitch(name string, log *zap.Logger) (*portSwitch, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &portSwitch{name: name, ln: ln, log: log.With(zap.String("portgroup", name)), ports: map[*switchPort]bool{}, macs: map[[6]byte]*switchPort{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is where ports connect.
func (s *portSwitch) Addr() string { return s.ln.Addr().String() }

func (s *portSwitch) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		p := &switchPort{conn: c, out: make(chan []byte, portQueue)}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return
		}
		s.ports[p] = true
		s.wg.Add(2)
		s.mu.Unlock()
		go s.read(p)
		go s.write(p)
	}
}

func (s *portSwitch) read(p *switchPort) {
	defer s.wg.Done()
	defer s.drop(p)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(p.conn, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			s.log.Warn("frame too large: port dropped", zap.Uint32("bytes", n))
			return
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(p.conn, f); err != nil {
			return
		}
		if len(f) < 14 {
			continue
		}
		s.forward(p, f)
	}
}

func (s *portSwitch) forward(from *switchPort, f []byte) {
	var dst, src [6]byte
	copy(dst[:], f[0:6])
	copy(src[:], f[6:12])
	s.mu.Lock()
	defer s.mu.Unlock()
	if src[0]&1 == 0 {
		s.macs[src] = from
	}
	if to, ok := s.macs[dst]; ok && dst[0]&1 == 0 && s.ports[to] {
		if to != from {
			send(to, f)
		}
		return
	}
	for p := range s.ports {
		if p != from {
			send(p, f)
		}
	}
}

// send queues f for p, or loses it if p's queue is full. Call with s.mu
// held.
func send(p *switchPort, f []byte) {
	select {
	case p.out <- f:
	default:
	}
}

func (s *portSwitch) write(p *switchPort) {
	defer s.wg.Done()
	buf := make([]byte, 4+maxFrame)
	for f := range p.out {
		binary.BigEndian.PutUint32(buf, uint32(len(f)))
		n := copy(buf[4:], f)
		if _, err := p.conn.Write(buf[:4+n]); err != nil {
			// The reader sees the broken connection and drops the port.
			for range p.out {
			}
			return
		}
	}
}

// drop forgets a port whose connection ended.
func (s *portSwitch) drop(p *switchPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ports[p] {
		return
	}
	delete(s.ports, p)
	for mac, q := range s.macs {
		if q == p {
			delete(s.macs, mac)
		}
	}
	close(p.out)
	_ = p.conn.Close()
}

// Close stops the switch and disconnects every port.
func (s *portSwitch) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	for p := range s.ports {
		_ = p.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
