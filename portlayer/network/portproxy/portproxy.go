// Package portproxy is a userland port forwarder: a listener on the host
// that relays TCP connections and UDP sessions to a container's address.
// Network providers use it for published ports (the local provider next to
// its DNAT rules, the vSphere provider on the VCH endpoint).
package portproxy

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

// Proxy is one published port: a listener on the host that forwards to
// the container's address.
type Proxy struct {
	log     *zap.Logger
	backend string // ip:port of the container
	tcp     net.Listener
	udp     *net.UDPConn
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[io.Closer]bool
	closed  bool
}

// Listen binds b on the host and forwards what arrives to backend;
// b.HostPort 0 picks a free port, which the returned binding carries. A
// port that is taken gives network.PortAllocatedError.
func Listen(b network.PortBinding, backend netip.AddrPort, log *zap.Logger) (*Proxy, network.PortBinding, error) {
	host := "0.0.0.0"
	if b.HostIP.IsValid() {
		host = b.HostIP.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(b.HostPort)))
	p := &Proxy{log: log, backend: backend.String(), conns: map[io.Closer]bool{}}
	switch b.Proto {
	case "tcp":
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return nil, b, bindError(b, err)
		}
		p.tcp = l
		b.HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
		p.wg.Add(1)
		go p.serveTCP()
	case "udp":
		ua, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return nil, b, err
		}
		c, err := net.ListenUDP("udp4", ua)
		if err != nil {
			return nil, b, bindError(b, err)
		}
		p.udp = c
		b.HostPort = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		p.wg.Add(1)
		go p.serveUDP()
	default:
		return nil, b, errors.New("unknown protocol " + b.Proto)
	}
	return p, b, nil
}

func bindError(b network.PortBinding, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return network.PortAllocatedError(b)
	}
	return err
}

func (p *Proxy) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// Close stops listening and cuts every forwarded connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if p.tcp != nil {
		p.tcp.Close()
	}
	if p.udp != nil {
		p.udp.Close()
	}
	p.wg.Wait()
}

func (p *Proxy) serveTCP() {
	defer p.wg.Done()
	for {
		c, err := p.tcp.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go p.forwardTCP(c.(*net.TCPConn))
	}
}

func (p *Proxy) forwardTCP(in *net.TCPConn) {
	defer p.wg.Done()
	defer p.untrack(in)
	out, err := net.DialTimeout("tcp4", p.backend, 10*time.Second)
	if err != nil {
		p.log.Debug("proxy dial", zap.String("backend", p.backend), zap.Error(err))
		return
	}
	if !p.track(out) {
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src *net.TCPConn) {
		_, _ = io.Copy(dst, src)
		_ = dst.CloseWrite()
		done <- struct{}{}
	}
	go pipe(out.(*net.TCPConn), in)
	go pipe(in, out.(*net.TCPConn))
	<-done
	<-done
}

func (p *Proxy) serveUDP() {
	defer p.wg.Done()
	sessions := map[string]*net.UDPConn{}
	var smu sync.Mutex
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.udp.ReadFromUDP(buf)
		if err != nil {
			return
		}
		smu.Lock()
		s := sessions[from.String()]
		if s == nil {
			ba, _ := net.ResolveUDPAddr("udp4", p.backend)
			s, err = net.DialUDP("udp4", nil, ba)
			if err != nil || !p.track(s) {
				smu.Unlock()
				continue
			}
			sessions[from.String()] = s
			p.wg.Add(1)
			go func(s *net.UDPConn, from *net.UDPAddr) {
				defer p.wg.Done()
				defer func() {
					smu.Lock()
					delete(sessions, from.String())
					smu.Unlock()
					p.untrack(s)
				}()
				rb := make([]byte, 64<<10)
				for {
					_ = s.SetReadDeadline(time.Now().Add(udpIdle))
					n, err := s.Read(rb)
					if err != nil {
						return
					}
					_, _ = p.udp.WriteToUDP(rb[:n], from)
				}
			}(s, from)
		}
		smu.Unlock()
		_, _ = s.Write(buf[:n])
	}
}
