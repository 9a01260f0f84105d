package portproxy

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
)

func lo() netip.Addr { return netip.MustParseAddr("127.0.0.1") }

// TestTCPRelayAndTaken relays a TCP connection both ways, refuses a second
// listener on the same port with the allocated error, and cuts live
// connections on Close.
func TestTCPRelayAndTaken(t *testing.T) {
	backend, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	bp := netip.MustParseAddrPort(backend.Addr().String())
	p, got, err := Listen(network.PortBinding{Proto: "tcp", HostIP: lo(), ContainerPort: bp.Port()}, bp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if got.HostPort == 0 {
		t.Fatal("no host port picked")
	}
	if _, _, err := Listen(got, bp, zap.NewNop()); !errdefs.IsConflict(err) {
		t.Fatalf("second listen on %d: %v, want the port-allocated conflict", got.HostPort, err)
	}
	c, err := net.Dial("tcp4", netip.AddrPortFrom(lo(), got.HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo through the proxy: %q, %v", buf, err)
	}
	p.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("connection still open after Close (read %d bytes)", n)
	}
}

// TestUDPRelay sends a datagram through and gets the backend's answer back
// on the client's own address.
func TestUDPRelay(t *testing.T) {
	backend, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		b := make([]byte, 1500)
		for {
			n, from, err := backend.ReadFromUDP(b)
			if err != nil {
				return
			}
			_, _ = backend.WriteToUDP(append([]byte("re:"), b[:n]...), from)
		}
	}()
	bp := netip.MustParseAddrPort(backend.LocalAddr().String())
	p, got, err := Listen(network.PortBinding{Proto: "udp", HostIP: lo(), ContainerPort: bp.Port()}, bp, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("udp4", netip.AddrPortFrom(lo(), got.HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "re:x" {
		t.Fatalf("udp answer %q, %v", b[:n], err)
	}
}

func TestUnknownProtocol(t *testing.T) {
	if _, _, err := Listen(network.PortBinding{Proto: "sctp", HostIP: lo()}, netip.MustParseAddrPort("127.0.0.1:1"), zap.NewNop()); err == nil {
		t.Fatal("sctp accepted")
	}
}
