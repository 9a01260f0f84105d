package nameserver

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/vchproject/vch/errdefs"
)

// table resolves names for one asker, and gives it its own upstreams.
type table struct {
	asker netip.Addr
	names map[string][]netip.Addr
	ups   []netip.AddrPort
}

func (tb table) Upstreams(_ context.Context, from netip.Addr) []netip.AddrPort {
	if from == tb.asker {
		return tb.ups
	}
	return nil
}

func (tb table) Resolve(_ context.Context, from netip.Addr, name string) ([]netip.Addr, error) {
	if a, ok := tb.names[name]; ok && from == tb.asker {
		return a, nil
	}
	return nil, errdefs.NotFound("no such name")
}

// freeAddr is 127.0.0.1 with a port free for UDP and TCP right now.
func freeAddr(t *testing.T) netip.AddrPort {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ap := l.Addr().(*net.TCPAddr).AddrPort()
		u, err := net.ListenPacket("udp4", ap.String())
		l.Close()
		if err == nil {
			u.Close()
			return ap
		}
	}
	t.Fatal("no free port")
	return netip.AddrPort{}
}

func start(t *testing.T, cfg Config) netip.AddrPort {
	t.Helper()
	cfg.Addr = freeAddr(t)
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return cfg.Addr
}

func ask(t *testing.T, proto string, at netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: proto}
	r, _, err := c.Exchange(m, at.String())
	if err != nil {
		t.Fatalf("%s query %s: %v", proto, name, err)
	}
	return r
}

func TestAnswersForwardsAndFails(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	// An upstream that knows one name.
	up := start(t, Config{Resolver: table{asker: lo, names: map[string][]netip.Addr{"example.test.": addrs("192.0.2.7", "2001:db8::7")}}, Upstreams: []string{}})
	at := start(t, Config{
		Resolver:  table{asker: lo, names: map[string][]netip.Addr{"web.": addrs("10.77.0.2"), "dual.": addrs("10.77.0.3", "fd00:77::3"), "six.": addrs("fd00:77::4")}},
		Upstreams: []string{up.String()},
	})
	for _, proto := range []string{"udp", "tcp"} {
		r := ask(t, proto, at, "web", dns.TypeA)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.77.0.2" || r.Answer[0].Header().Ttl != TTL {
			t.Fatalf("%s web: %v", proto, r)
		}
		if r := ask(t, proto, at, "web", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !r.Authoritative {
			t.Fatalf("%s web AAAA: %v", proto, r)
		}
		if r := ask(t, proto, at, "example.test", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.7" {
			t.Fatalf("%s forwarded: %v", proto, r)
		}
		if r := ask(t, proto, at, "example.test", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "2001:db8::7" {
			t.Fatalf("%s forwarded AAAA: %v", proto, r)
		}
		// A container with both families: A gets the IPv4 address only,
		// AAAA the IPv6 one only.
		if r := ask(t, proto, at, "dual", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.77.0.3" {
			t.Fatalf("%s dual A: %v", proto, r)
		}
		if r := ask(t, proto, at, "dual", dns.TypeAAAA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.AAAA).AAAA.String() != "fd00:77::3" || r.Answer[0].Header().Ttl != TTL {
			t.Fatalf("%s dual AAAA: %v", proto, r)
		}
		// IPv6 only: A is NODATA (success, no answer), not a forward.
		if r := ask(t, proto, at, "six", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || !r.Authoritative {
			t.Fatalf("%s six A: %v", proto, r)
		}
	}
	// The asker's own upstreams (--dns) come before the configured ones.
	own := start(t, Config{Resolver: table{asker: lo, ups: []netip.AddrPort{up}}, Upstreams: []string{}})
	if r := ask(t, "udp", own, "example.test", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("through the asker's upstream: %v", r)
	}
	// An upstream that is the server itself is skipped (no loop).
	self := freeAddr(t)
	srv, err := Start(Config{Addr: self, Resolver: table{}, Upstreams: []string{self.String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if r := ask(t, "udp", self, "example.test", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("forwarding to itself: %v", r)
	}
	// No upstream answers: SERVFAIL, promptly.
	none := start(t, Config{Resolver: table{}, Upstreams: []string{}})
	if r := ask(t, "udp", none, "example.test", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("without upstreams: %v", r)
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}
