package local

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/network"
	"github.com/vchproject/vch/portlayer/network/networktest"
	"github.com/vchproject/vch/tests/fixture"
)

// The tests make bridges and iptables rules: they run in their own
// network namespace.
func TestMain(m *testing.M) { os.Exit(fixture.RunInNetns("vchnet", m.Run)) }

func open(t *testing.T, root string) *Provider {
	t.Helper()
	p, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func factory(t *testing.T) networktest.Instance {
	root := t.TempDir()
	p := open(t, root)
	cur := p
	t.Cleanup(func() {
		cur.Close()
		if err := Destroy(root); err != nil {
			t.Errorf("destroy: %v", err)
		}
	})
	return networktest.Instance{Provider: p, Reopen: func(t *testing.T) network.Provider {
		cur.Close()
		cur = open(t, root)
		return cur
	}}
}

func TestConformance(t *testing.T) { networktest.Run(t, factory) }

func iptablesSave(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v: %s", err, out)
	}
	return string(out)
}

// TestHostSetupAndDestroy checks the bridge, its address and the rules,
// and that Destroy leaves none of them.
func TestHostSetupAndDestroy(t *testing.T) {
	root := t.TempDir()
	p := open(t, root)
	br, err := p.Network(context.Background(), network.BridgeName)
	if err != nil {
		t.Fatal(err)
	}
	if br.Subnet != netip.MustParsePrefix("172.16.0.0/16") || br.Gateway != netip.MustParseAddr("172.16.0.1") {
		t.Fatalf("first bridge in a fresh namespace: %+v", br)
	}
	link, err := netlink.LinkByName(br.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "172.16.0.1/16" {
		t.Fatalf("bridge addresses %v", addrs)
	}
	if rs := iptablesSave(t); strings.Count(rs, "vch:"+br.Bridge) != 5 || !strings.Contains(rs, "MASQUERADE") {
		t.Fatalf("rules:\n%s", rs)
	}
	// A second provider on the same state adds nothing.
	p.Close()
	p = open(t, root)
	if rs := iptablesSave(t); strings.Count(rs, "vch:"+br.Bridge) != 5 {
		t.Fatalf("rules after reopen:\n%s", rs)
	}
	p.Close()
	if err := Destroy(root); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(br.Bridge); err == nil {
		t.Fatal("bridge left after Destroy")
	}
	if rs := iptablesSave(t); strings.Contains(rs, "vch:") {
		t.Fatalf("rules left after Destroy:\n%s", rs)
	}
}

// TestPublishForwards publishes a port of an endpoint whose address is put on
// the bridge itself (no VM), and talks to it through 127.0.0.1: the kernel
// forwards (DNAT), so the server sees the client's own address, not the
// proxy's.
func TestPublishForwards(t *testing.T) {
	root := t.TempDir()
	p := open(t, root)
	t.Cleanup(func() { p.Close(); Destroy(root) })
	ctx := context.Background()
	const c = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	if _, err := p.Join(ctx, c, network.EndpointSpec{Network: network.BridgeName, Ports: []network.PortBinding{
		{Proto: "tcp", ContainerPort: 7000}, {Proto: "udp", ContainerPort: 7001},
	}}); err != nil {
		t.Fatal(err)
	}
	nics, err := p.Attach(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := netlink.LinkByName(nics[0].Bridge)
	addr, _ := netlink.ParseAddr(netip.PrefixFrom(nics[0].Address.Addr(), 32).String())
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", netip.AddrPortFrom(nics[0].Address.Addr(), 7000).String())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	u, err := net.ListenPacket("udp4", netip.AddrPortFrom(nics[0].Address.Addr(), 7001).String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := u.ReadFrom(buf)
			if err != nil {
				return
			}
			u.WriteTo(append([]byte("re:"), buf[:n]...), from)
		}
	}()
	eps, _ := p.Endpoints(ctx, c)
	tcpPort, udpPort := eps[0].Bound[0].HostPort, eps[0].Bound[1].HostPort

	conn, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tcpPort).String())
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("ping"))
	conn.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "ping" {
		t.Fatalf("tcp through the published port: %q", got)
	}
	if peer := <-peers; peer != "127.0.0.1" {
		t.Fatalf("the server saw %s, not the client's 127.0.0.1: not forwarded by DNAT", peer)
	}
	if rs := iptablesSave(t); !strings.Contains(rs, fmt.Sprintf("-p tcp -m tcp --dport %d -m comment --comment \"vch:port\" -j DNAT --to-destination %s:7000", tcpPort, nics[0].Address.Addr())) {
		t.Fatalf("no DNAT rule for %d:\n%s", tcpPort, rs)
	}
	uc, err := net.Dial("udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), udpPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetReadDeadline(time.Now().Add(30 * time.Second))
	uc.Write([]byte("dns"))
	buf := make([]byte, 100)
	n, err := uc.Read(buf)
	if err != nil || string(buf[:n]) != "re:dns" {
		t.Fatalf("udp through the published port: %q %v", buf[:n], err)
	}
	if err := p.Detach(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), tcpPort).String()); err == nil {
		t.Fatal("port still served after Detach")
	}
	if leases, proxies := p.Counts(); leases != 0 || proxies != 0 {
		t.Fatalf("after detach: %d leases, %d proxies", leases, proxies)
	}
	if rs := iptablesSave(t); strings.Contains(rs, "vch:port") {
		t.Fatalf("DNAT rules left after Detach:\n%s", rs)
	}
}

// TestBridgeRange takes the bridge's subnet from the configured range and
// skips a /16 that a route of the host already covers.
func TestBridgeRange(t *testing.T) {
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "vchtestother"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	defer netlink.LinkDel(dummy)
	addr, _ := netlink.ParseAddr("10.50.0.1/16")
	if err := netlink.AddrAdd(dummy, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	p, err := New(Config{Root: root, Range: netip.MustParsePrefix("10.50.0.0/15")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Close(); Destroy(root) }()
	br, err := p.Network(context.Background(), network.BridgeName)
	if err != nil || br.Subnet.String() != "10.51.0.0/16" || br.Gateway.String() != "10.51.0.1" {
		t.Fatalf("bridge %+v %v", br, err)
	}
	full := t.TempDir()
	if _, err := New(Config{Root: full, Range: netip.MustParsePrefix("10.50.0.0/16")}); err == nil {
		Destroy(full)
		t.Fatal("a range with no free /16 was accepted")
	}
}

// TestDNSOnGateways asks each network's DNS on its gateway from a
// container address put on the bridge itself (no VM): the user-defined
// network answers its containers' names, both forward other names to the
// upstream.
func TestDNSOnGateways(t *testing.T) {
	// An upstream on loopback that knows ext.test.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg).SetReply(req)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 5}, A: net.ParseIP("192.0.2.9")})
		w.WriteMsg(m)
	})}
	go up.ActivateAndServe()
	defer up.Shutdown()

	root := t.TempDir()
	p, err := New(Config{Root: root, DNSUpstreams: []string{pc.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); Destroy(root) })
	ctx := context.Background()
	if _, err := p.CreateNetwork(ctx, network.NetworkSpec{Name: "front", Subnet: netip.MustParsePrefix("10.77.0.0/24")}); err != nil {
		t.Fatal(err)
	}
	const c1 = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
	const c2 = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"
	if _, err := p.Join(ctx, c1, network.EndpointSpec{Network: "front", DNSNames: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(ctx, c2, network.EndpointSpec{Network: network.BridgeName}); err != nil {
		t.Fatal(err)
	}
	ask := func(nic compute.NIC, name string) *dns.Msg {
		t.Helper()
		link, _ := netlink.LinkByName(nic.Bridge)
		addr, _ := netlink.ParseAddr(netip.PrefixFrom(nic.Address.Addr(), 32).String())
		if err := netlink.AddrReplace(link, addr); err != nil {
			t.Fatal(err)
		}
		if len(nic.DNS) != 1 {
			t.Fatalf("NIC %+v offers no DNS", nic)
		}
		conn, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(nic.Address.Addr(), 0)), net.UDPAddrFromAddrPort(netip.AddrPortFrom(nic.DNS[0], 53)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		co := &dns.Conn{Conn: conn}
		if err := co.WriteMsg(new(dns.Msg).SetQuestion(name, dns.TypeA)); err != nil {
			t.Fatal(err)
		}
		r, err := co.ReadMsg()
		if err != nil {
			t.Fatalf("ask %s for %s: %v", nic.DNS[0], name, err)
		}
		return r
	}
	// The "container" addresses are the host's own here, so their packets
	// to the gateway leave through lo and would meet the networks'
	// MASQUERADE rules (a VM's come in from the bridge and do not).
	if err := iptables("-t", "nat", "-I", "POSTROUTING", "-o", "lo", "-j", "ACCEPT"); err != nil {
		t.Fatal(err)
	}
	defer iptables("-t", "nat", "-D", "POSTROUTING", "-o", "lo", "-j", "ACCEPT")
	n1, err := p.Attach(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	n2, err := p.Attach(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if r := ask(n1[0], "web."); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != n1[0].Address.Addr().String() {
		t.Fatalf("web on front: %v", r)
	}
	for _, nic := range []compute.NIC{n1[0], n2[0]} {
		if r := ask(nic, "ext.test."); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.9" {
			t.Fatalf("forwarded from %s: %v", nic.Network, r)
		}
	}
	// The bridge answers no container names.
	if r := ask(n2[0], "web."); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.9" {
		t.Fatalf("web on the bridge went elsewhere than upstream: %v", r)
	}
}
