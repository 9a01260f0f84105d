package vsnetwork

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/vchproject/vch/portlayer/network"
)

// udpIdle ends a UDP session without traffic.
const udpIdle = 60 * time.Second

// forwarder is one published port on the VCH endpoint: a listener that
// relays to the container's address on its port group (the endpoint VM
// has a leg on the bridge port group, so it reaches the containers).
type forwarder struct {
	log     *zap.Logger
	backend string
	tcp     net.Listener
	udp     *net.UDPConn
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[io.Closer]bool
	closed  bool
}

func forward(b network.PortBinding, backend netip.AddrPort, log *zap.Logger) (*forwarder, network.PortBinding, error) {
	host := "0.0.0.0"
	if b.HostIP.IsValid() {
		host = b.HostIP.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(b.HostPort)))
	f := &forwarder{log: log, backend: backend.String(), conns: map[io.Closer]bool{}}
	switch b.Proto {
	case "tcp":
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return nil, b, bindError(b, err)
		}
		f.tcp = l
		b.HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
		f.wg.Add(1)
		go f.serveTCP()
	case "udp":
		ua, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return nil, b, err
		}
		c, err := net.ListenUDP("udp4", ua)
		if err != nil {
			return nil, b, bindError(b, err)
		}
		f.udp = c
		b.HostPort = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		f.wg.Add(1)
		go f.serveUDP()
	default:
		return nil, b, errors.New("unknown protocol " + b.Proto)
	}
	return f, b, nil
}

func bindError(b network.PortBinding, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return network.PortAllocatedError(b)
	}
	return err
}

func (f *forwarder) track(c io.Closer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = true
	return true
}

func (f *forwarder) untrack(c io.Closer) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

func (f *forwarder) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	if f.tcp != nil {
		_ = f.tcp.Close()
	}
	if f.udp != nil {
		_ = f.udp.Close()
	}
	f.wg.Wait()
}

func (f *forwarder) serveTCP() {
	defer f.wg.Done()
	for {
		in, err := f.tcp.Accept()
		if err != nil {
			return
		}
		if !f.track(in) {
			_ = in.Close()
			return
		}
		f.wg.Add(1)
		go f.relayTCP(in)
	}
}

func (f *forwarder) relayTCP(in net.Conn) {
	defer f.wg.Done()
	defer f.untrack(in)
	defer in.Close()
	out, err := net.DialTimeout("tcp4", f.backend, 10*time.Second)
	if err != nil {
		f.log.Debug("port forward: dial", zap.String("backend", f.backend), zap.Error(err))
		return
	}
	if !f.track(out) {
		_ = out.Close()
		return
	}
	defer f.untrack(out)
	defer out.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(out, in)
		if tc, ok := out.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(in, out)
	if tc, ok := in.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// serveUDP relays datagrams: one connection to the backend per client
// address, ended after udpIdle without traffic.
func (f *forwarder) serveUDP() {
	defer f.wg.Done()
	sessions := map[string]*net.UDPConn{}
	var smu sync.Mutex
	buf := make([]byte, 65535)
	for {
		n, from, err := f.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		smu.Lock()
		out := sessions[from.String()]
		if out == nil {
			ba, err := net.ResolveUDPAddr("udp4", f.backend)
			if err == nil {
				out, err = net.DialUDP("udp4", nil, ba)
			}
			if err != nil || !f.track(out) {
				smu.Unlock()
				continue
			}
			sessions[from.String()] = out
			f.wg.Add(1)
			go func(from *net.UDPAddr, out *net.UDPConn) {
				defer f.wg.Done()
				defer f.untrack(out)
				defer func() { smu.Lock(); delete(sessions, from.String()); smu.Unlock(); _ = out.Close() }()
				back := make([]byte, 65535)
				for {
					_ = out.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := out.Read(back)
					if err != nil {
						return
					}
					if _, err := f.udp.WriteToUDP(back[:n], from); err != nil {
						return
					}
				}
			}(from, out)
		}
		smu.Unlock()
		_, _ = out.Write(buf[:n])
	}
}
