// Package nameserver is the embedded DNS of user-defined networks: one
// server per network listens on the network's gateway address, port 53,
// UDP and TCP. It answers A and AAAA queries for the names of containers (name,
// short ID, aliases) from the port layer's network.Resolver, which knows
// who asks by the query's source address and answers only with containers
// on networks the asker shares. Every other query is forwarded to the
// asker's own name servers (its --dns), else to the configured upstreams or
// the host's /etc/resolv.conf; if none answers, the asker gets SERVFAIL.
//
// Callers: Start a server once the network's address is on the host,
// Close it before the address goes away.
package nameserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/network"
)

// TTL of container records, as docker's embedded DNS.
const TTL = 600

// forwardTimeout bounds one upstream exchange.
const forwardTimeout = 2 * time.Second

// Config configures one server.
type Config struct {
	Addr     netip.AddrPort // where to listen; port 0 means 53
	Resolver network.Resolver
	// Upstreams are host:port resolvers for other names; nil reads them
	// from /etc/resolv.conf when a query needs them.
	Upstreams []string
	Logger    *zap.Logger
}

// Server serves one address.
type Server struct {
	cfg  Config
	log  *zap.Logger
	udp  *dns.Server
	tcp  *dns.Server
	once sync.Once
}

// Start binds UDP and TCP on cfg.Addr and serves in the background.
func Start(cfg Config) (*Server, error) {
	if cfg.Resolver == nil || !cfg.Addr.Addr().IsValid() {
		return nil, errdefs.InvalidParameter("nameserver: an address and a resolver are needed")
	}
	if cfg.Addr.Port() == 0 {
		cfg.Addr = netip.AddrPortFrom(cfg.Addr.Addr(), 53)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	pc, err := net.ListenPacket("udp", cfg.Addr.String())
	if err != nil {
		return nil, fmt.Errorf("nameserver %s/udp: %w", cfg.Addr, err)
	}
	l, err := net.Listen("tcp", cfg.Addr.String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("nameserver %s/tcp: %w", cfg.Addr, err)
	}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: l, Handler: h}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				s.log.Debug("nameserver stopped", zap.Stringer("addr", cfg.Addr), zap.Error(err))
			}
		}()
	}
	return s, nil
}

// Close stops serving.
func (s *Server) Close() {
	s.once.Do(func() {
		_ = s.udp.Shutdown()
		_ = s.tcp.Shutdown()
	})
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	resp := s.answer(w.RemoteAddr(), w.LocalAddr().Network(), req)
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("nameserver reply", zap.Error(err))
	}
}

// answer builds the reply to req from the asker at remote.
func (s *Server) answer(remote net.Addr, proto string, req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return resp.SetRcode(req, dns.RcodeNotImplemented)
	}
	q := req.Question[0]
	from := sourceAddr(remote)
	if q.Qclass == dns.ClassINET && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY) {
		ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
		addrs, err := s.cfg.Resolver.Resolve(ctx, from, q.Name)
		cancel()
		switch {
		case err == nil:
			resp.SetReply(req)
			resp.Authoritative = true
			resp.RecursionAvailable = true
			// A name known in one family only gets an empty answer
			// (NODATA) in the other, not a forward.
			for _, a := range addrs {
				if a.Is4() && q.Qtype != dns.TypeAAAA {
					resp.Answer = append(resp.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL},
						A:   net.IP(a.AsSlice()),
					})
				}
				if a.Is6() && q.Qtype != dns.TypeA {
					resp.Answer = append(resp.Answer, &dns.AAAA{
						Hdr:  dns.RR_Header{Name: q.Name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: TTL},
						AAAA: net.IP(a.AsSlice()),
					})
				}
			}
			return resp
		case !errdefs.IsNotFound(err):
			s.log.Warn("nameserver resolve", zap.String("name", q.Name), zap.Error(err))
		}
	}
	return s.forward(req, proto, from)
}

// forward asks the upstreams in turn (the asker's own, else the
// configured or the host's); SERVFAIL if none answers.
func (s *Server) forward(req *dns.Msg, proto string, from netip.Addr) *dns.Msg {
	var ups []string
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	for _, a := range s.cfg.Resolver.Upstreams(ctx, from) {
		ups = append(ups, a.String())
	}
	cancel()
	if ups == nil {
		ups = s.cfg.Upstreams
	}
	if ups == nil {
		ups = hostUpstreams()
	}
	c := &dns.Client{Net: proto, Timeout: forwardTimeout}
	var last error
	for _, u := range ups {
		if u == s.cfg.Addr.String() {
			continue // never to itself (a network whose DNS is this address)
		}
		resp, _, err := c.Exchange(req, u)
		if err == nil && resp != nil {
			resp.Id = req.Id
			return resp
		}
		last = err
	}
	if last != nil {
		s.log.Debug("nameserver forward", zap.String("name", req.Question[0].Name), zap.Error(last))
	}
	return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
}

// hostUpstreams reads the host's resolvers.
func hostUpstreams() []string {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out
}

func sourceAddr(a net.Addr) netip.Addr {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		if p, err := netip.ParseAddrPort(a.String()); err == nil {
			ap = p
		}
	}
	return ap.Addr().Unmap()
}
