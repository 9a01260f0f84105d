package vsimtest

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// stationConn is one station on a port switch, speaking QEMU's socket
// framing.
type stationConn struct {
	t   *testing.T
	c   net.Conn
	mac [6]byte
}

func station(t *testing.T, addr string, last byte) *stationConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &stationConn{t: t, c: c, mac: [6]byte{2, 0, 0, 0, 0, last}}
}

func (s *stationConn) send(dst [6]byte, payload string) {
	s.t.Helper()
	f := append(append(append([]byte{}, dst[:]...), s.mac[:]...), 0x88, 0xb5)
	f = append(f, payload...)
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(f)))
	if _, err := s.c.Write(append(hdr, f...)); err != nil {
		s.t.Fatal(err)
	}
}

// recv returns the payload of the next frame, "" if none comes within
// wait.
func (s *stationConn) recv(wait time.Duration) string {
	s.t.Helper()
	_ = s.c.SetReadDeadline(time.Now().Add(wait))
	var hdr [4]byte
	if _, err := io.ReadFull(s.c, hdr[:]); err != nil {
		return ""
	}
	f := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(s.c, f); err != nil {
		s.t.Fatal(err)
	}
	return string(f[14:])
}

// TestPortSwitch: a broadcast reaches every other station; once a
// station's MAC is learned, frames to it reach it alone; a station that
// left is forgotten, and frames to it are flooded again.
func TestPortSwitch(t *testing.T) {
	sw, err := newPortSwitch("pg", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	a, b, c := station(t, sw.Addr(), 1), station(t, sw.Addr(), 2), station(t, sw.Addr(), 3)
	waitPorts(t, sw, 3)
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	a.send(bcast, "who has")
	if got := b.recv(5 * time.Second); got != "who has" {
		t.Fatalf("b got %q", got)
	}
	if got := c.recv(5 * time.Second); got != "who has" {
		t.Fatalf("c got %q", got)
	}
	if got := a.recv(200 * time.Millisecond); got != "" {
		t.Fatalf("the broadcast came back to its sender: %q", got)
	}
	b.send(a.mac, "is at") // a's MAC is learned: b's reply goes to a only
	if got := a.recv(5 * time.Second); got != "is at" {
		t.Fatalf("a got %q", got)
	}
	if got := c.recv(200 * time.Millisecond); got != "" {
		t.Fatalf("c got a's unicast frame %q", got)
	}
	a.send(b.mac, "hello b")
	if got := b.recv(5 * time.Second); got != "hello b" {
		t.Fatalf("b got %q", got)
	}
	if got := c.recv(200 * time.Millisecond); got != "" {
		t.Fatalf("c got b's unicast frame %q", got)
	}
	b.c.Close()
	waitPorts(t, sw, 2)
	a.send(b.mac, "flooded")
	if got := c.recv(5 * time.Second); got != "flooded" {
		t.Fatalf("after b left, c got %q", got)
	}
}

func waitPorts(t *testing.T, sw *portSwitch, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		sw.mu.Lock()
		got := len(sw.ports)
		sw.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d ports, want %d", got, n)
		}
	}
}
