package network

import (
	"net/netip"
	"testing"

	"github.com/vchproject/vch/errdefs"
)

// hostPorts is a PortBinder that counts host ports.
type hostPorts struct{ bound int }

func (h *hostPorts) Bind(_ Endpoint, b PortBinding) (PortBinding, error) {
	h.bound++
	return b, nil
}
func (h *hostPorts) Unbind(Endpoint, PortBinding) { h.bound-- }

func publicSpec() ContainerNetworkSpec {
	return ContainerNetworkSpec{
		Name: "public", Bridge: "br-pub", Gateway: netip.MustParsePrefix("10.3.0.1/24"),
		RangeFrom: netip.MustParseAddr("10.3.0.10"), RangeTo: netip.MustParseAddr("10.3.0.11"),
		DNS: []netip.Addr{netip.MustParseAddr("10.3.0.2")},
	}
}

func TestContainerNetworks(t *testing.T) {
	br := Network{ID: NewID(), Name: BridgeName, Driver: "bridge", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1"), Bridge: "vchb0"}
	b, err := NewBook(br)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{publicSpec()}); err != nil {
		t.Fatal(err)
	}
	pub, err := b.Network("public")
	if err != nil || !pub.Container || pub.Driver != ContainerDriver || pub.Firewall != FirewallPublished || pub.Subnet.String() != "10.3.0.0/24" {
		t.Fatalf("public: %+v, %v", pub, err)
	}
	hp := &hostPorts{}
	web := PortBinding{Proto: "tcp", ContainerPort: 80, HostPort: 80}
	// Three containers publish port 80: no host port is taken, each
	// container's own address carries it; the range holds two.
	for i, c := range []string{"a", "b"} {
		if _, err := b.Join(c, EndpointSpec{Network: "public", Ports: []PortBinding{web}}); err != nil {
			t.Fatal(err)
		}
		nics, err := b.Attach(c, hp)
		if err != nil {
			t.Fatal(err)
		}
		want := netip.MustParseAddr("10.3.0.10")
		if i == 1 {
			want = want.Next()
		}
		if len(nics) != 1 || nics[0].Address.Addr() != want || nics[0].Gateway != pub.Gateway || len(nics[0].DNS) != 1 || nics[0].DNS[0].String() != "10.3.0.2" {
			t.Fatalf("NIC of %s: %+v", c, nics)
		}
		ep := b.Endpoints(c)[0]
		if len(ep.Bound) != 1 || ep.Bound[0].HostIP != want || ep.Bound[0].HostPort != 80 {
			t.Fatalf("bound of %s: %+v", c, ep.Bound)
		}
	}
	if hp.bound != 0 {
		t.Fatalf("%d host ports bound for a container network", hp.bound)
	}
	if _, err := b.Join("c", EndpointSpec{Network: "public"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach("c", hp); !errdefs.IsConflict(err) {
		t.Fatalf("exhausted range: %v", err)
	}
	// The bridge network still has its host port 80.
	if _, err := b.Join("d", EndpointSpec{Network: BridgeName, Ports: []PortBinding{web}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach("d", hp); err != nil || hp.bound != 1 {
		t.Fatalf("bridge -p 80:80 beside container networks: %v (%d bound)", err, hp.bound)
	}
	// Another host port than the container's is refused at join.
	if _, err := b.Join("e", EndpointSpec{Network: "public", Ports: []PortBinding{{Proto: "tcp", ContainerPort: 80, HostPort: 8080}}}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("-p 8080:80 on a container network: %v", err)
	}

	// Reconfiguration: the level changes in place; addressing cannot
	// while containers are on it; removal waits for them.
	s := publicSpec()
	s.Firewall = FirewallOpen
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Network("public"); n.ID != pub.ID || n.Firewall != FirewallOpen {
		t.Fatalf("after level change: %+v", n)
	}
	s.Gateway = netip.MustParsePrefix("10.3.0.1/16")
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); !errdefs.IsConflict(err) {
		t.Fatalf("readdressing a used network: %v", err)
	}
	if removed, kept, err := b.SetContainerNetworks(nil); err != nil || len(removed) != 0 || len(kept) != 1 {
		t.Fatalf("unconfiguring a used network: %v %v %v", removed, kept, err)
	}
	for _, c := range []string{"a", "b", "c"} {
		if err := b.Leave(c, "", hp); err != nil {
			t.Fatal(err)
		}
	}
	if removed, _, err := b.SetContainerNetworks(nil); err != nil || len(removed) != 1 || removed[0].ID != pub.ID {
		t.Fatalf("unconfiguring an unused network: %v %v", removed, err)
	}
	if _, err := b.Network("public"); !errdefs.IsNotFound(err) {
		t.Fatalf("public after removal: %v", err)
	}

	// Conflicts with other networks.
	s = publicSpec()
	s.Name = BridgeName
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); err == nil {
		t.Fatal("a container network called bridge")
	}
	s = publicSpec()
	s.Gateway, s.RangeFrom, s.RangeTo = netip.MustParsePrefix("172.16.5.1/24"), netip.MustParseAddr("172.16.5.10"), netip.MustParseAddr("172.16.5.20")
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); !errdefs.IsForbidden(err) {
		t.Fatalf("overlapping the bridge network: %v", err)
	}
}

// An IPv6-enabled network gives every endpoint an address of its IPv6
// subnet too, released with the IPv4 one.
func TestIPv6Network(t *testing.T) {
	b, err := NewBook()
	if err != nil {
		t.Fatal(err)
	}
	auto := []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}
	if _, err := b.CreateNetwork(NetworkSpec{Name: "bad", Subnet6: netip.MustParsePrefix("fd00:1::/64")}, "", "vchnbad", auto); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("IPv6 subnet without IPv6: %v", err)
	}
	n, err := b.CreateNetwork(NetworkSpec{Name: "v6", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:1::/64")}, "", "vchnv6", auto)
	if err != nil || n.Gateway6.String() != "fd00:1::1" {
		t.Fatalf("create: %+v %v", n, err)
	}
	if _, err := b.CreateNetwork(NetworkSpec{Name: "v6b", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:1::/48")}, "", "vchnv6b", []netip.Prefix{netip.MustParsePrefix("172.19.0.0/16")}); !errdefs.IsForbidden(err) {
		t.Fatalf("overlapping IPv6 subnet: %v", err)
	}
	a, err := b.CreateNetwork(NetworkSpec{Name: "auto", IPv6: true}, "", "vchnauto", []netip.Prefix{netip.MustParsePrefix("172.20.0.0/16")})
	if err != nil || a.Subnet6 != ULASubnet(a.ID) || a.Subnet6.Bits() != 64 || a.Subnet6.Addr().As16()[0] != 0xfd {
		t.Fatalf("auto IPv6 subnet: %+v %v", a, err)
	}
	hp := &hostPorts{}
	for i, c := range []string{"c1", "c2"} {
		if _, err := b.Join(c, EndpointSpec{Network: "v6", DNSNames: []string{c}}); err != nil {
			t.Fatal(err)
		}
		nics, err := b.Attach(c, hp)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"fd00:1::2/64", "fd00:1::3/64"}[i]
		if len(nics) != 1 || nics[0].Address6.String() != want || nics[0].Gateway6.String() != "fd00:1::1" || !nics[0].Address.Addr().Is4() {
			t.Fatalf("NIC of %s: %+v", c, nics)
		}
	}
	// DNS: both families of c2, for c1 asking from either address.
	for _, from := range []netip.Addr{b.Endpoints("c1")[0].Address.Addr(), netip.MustParseAddr("fd00:1::2")} {
		got, err := b.Resolve(from, "C2.")
		if err != nil || len(got) != 2 || !got[0].Is4() || got[1].String() != "fd00:1::3" {
			t.Fatalf("resolve c2 from %s: %v %v", from, got, err)
		}
	}
	b.Detach("c1", hp)
	if ep := b.Endpoints("c1")[0]; ep.Address6.IsValid() {
		t.Fatalf("IPv6 address kept after detach: %+v", ep)
	}
	// Reload keeps c2's lease; c1 gets the freed ::2 again.
	b2, err := LoadBook(b.State())
	if err != nil {
		t.Fatal(err)
	}
	nics, err := b2.Attach("c1", hp)
	if err != nil || nics[0].Address6.String() != "fd00:1::2/64" {
		t.Fatalf("after reload: %+v %v", nics, err)
	}
}

// TestContainerNetworkStaticIP: --ip on a container network takes an
// address of the VCH's range, and nothing outside it.
func TestContainerNetworkStaticIP(t *testing.T) {
	br := Network{ID: NewID(), Name: BridgeName, Driver: "bridge", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1"), Bridge: "vchb0"}
	b, err := NewBook(br)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{publicSpec()}); err != nil {
		t.Fatal(err)
	}
	hp := &hostPorts{}
	for _, out := range []string{"10.3.0.9", "10.3.0.12", "10.3.1.10", "10.3.0.1"} {
		if _, err := b.Join("x", EndpointSpec{Network: "public", IPv4: netip.MustParseAddr(out)}); !errdefs.IsInvalidParameter(err) {
			t.Fatalf("--ip %s outside the range: %v", out, err)
		}
	}
	if len(b.Endpoints("x")) != 0 {
		t.Fatalf("a refused --ip left an endpoint: %+v", b.Endpoints("x"))
	}
	static := netip.MustParseAddr("10.3.0.11")
	if _, err := b.Join("a", EndpointSpec{Network: "public", IPv4: static}); err != nil {
		t.Fatal(err)
	}
	nics, err := b.Attach("a", hp)
	if err != nil || len(nics) != 1 || nics[0].Address.Addr() != static {
		t.Fatalf("--ip %s: %+v, %v", static, nics, err)
	}
	// The next dynamic address skips it.
	if _, err := b.Join("b", EndpointSpec{Network: "public"}); err != nil {
		t.Fatal(err)
	}
	if nics, err := b.Attach("b", hp); err != nil || nics[0].Address.Addr() != netip.MustParseAddr("10.3.0.10") {
		t.Fatalf("dynamic beside --ip: %+v, %v", nics, err)
	}
	// A second container asking for it is refused while the first runs.
	if _, err := b.Join("c", EndpointSpec{Network: "public", IPv4: static}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach("c", hp); !errdefs.IsConflict(err) {
		t.Fatalf("the same --ip twice: %v", err)
	}
}

// TestStaticIPv6: --ip6 takes that address of the network's IPv6 subnet;
// outside it, on the gateway or on a network without IPv6 it is refused at
// join, and taken twice it is refused at attach.
func TestStaticIPv6(t *testing.T) {
	b, err := NewBook()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNetwork(NetworkSpec{Name: "v6", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:1::/64")}, "", "vchnv6", []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateNetwork(NetworkSpec{Name: "v4"}, "", "vchnv4", []netip.Prefix{netip.MustParsePrefix("172.19.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ net, addr string }{{"v6", "fd00:2::5"}, {"v6", "fd00:1::1"}, {"v6", "fd00:1::"}, {"v4", "fd00:1::5"}} {
		if _, err := b.Join("x", EndpointSpec{Network: bad.net, IPv6: netip.MustParseAddr(bad.addr)}); !errdefs.IsInvalidParameter(err) {
			t.Fatalf("--ip6 %s on %s: %v", bad.addr, bad.net, err)
		}
	}
	hp := &hostPorts{}
	static := netip.MustParseAddr("fd00:1::99")
	for _, c := range []string{"a", "b"} {
		if _, err := b.Join(c, EndpointSpec{Network: "v6", IPv6: static}); err != nil {
			t.Fatal(err)
		}
	}
	nics, err := b.Attach("a", hp)
	if err != nil || nics[0].Address6.Addr() != static {
		t.Fatalf("--ip6 %s: %+v %v", static, nics, err)
	}
	if _, err := b.Attach("b", hp); !errdefs.IsConflict(err) {
		t.Fatalf("the same --ip6 twice: %v", err)
	}
	if ep := b.Endpoints("b")[0]; ep.Active || ep.Address.IsValid() {
		t.Fatalf("a refused attach keeps an address: %+v", ep)
	}
}

// TestBridgeIPv6: the default bridge takes an IPv6 subnet (vic-machine
// --bridge-network-ipv6-range); its endpoints get addresses of it, and it
// changes only while no running container holds one.
func TestBridgeIPv6(t *testing.T) {
	br := Network{ID: NewID(), Name: BridgeName, Driver: "bridge", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1"), Bridge: "vchb0"}
	b, err := NewBook(br)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SetBridgeIPv6(netip.MustParsePrefix("10.0.0.0/8")); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("IPv4 prefix: %v", err)
	}
	if _, err := b.CreateNetwork(NetworkSpec{Name: "v6", IPv6: true, Subnet6: netip.MustParsePrefix("fd00:9::/64")}, "", "vchnv6", []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.SetBridgeIPv6(netip.MustParsePrefix("fd00:9::/48")); !errdefs.IsForbidden(err) {
		t.Fatalf("overlapping: %v", err)
	}
	old, changed, err := b.SetBridgeIPv6(netip.MustParsePrefix("fd00:1::/64"))
	if err != nil || !changed || old.Subnet6.IsValid() {
		t.Fatalf("set: %+v %v %v", old, changed, err)
	}
	if n, _ := b.Network(BridgeName); n.Gateway6.String() != "fd00:1::1" {
		t.Fatalf("bridge after set: %+v", n)
	}
	if _, changed, err := b.SetBridgeIPv6(netip.MustParsePrefix("fd00:1::/64")); err != nil || changed {
		t.Fatalf("same again: %v %v", changed, err)
	}
	hp := &hostPorts{}
	if _, err := b.Join("c1", EndpointSpec{Network: BridgeName}); err != nil {
		t.Fatal(err)
	}
	nics, err := b.Attach("c1", hp)
	if err != nil || len(nics) != 1 || nics[0].Address6.String() != "fd00:1::2/64" || nics[0].Gateway6.String() != "fd00:1::1" {
		t.Fatalf("attach: %+v %v", nics, err)
	}
	if _, _, err := b.SetBridgeIPv6(netip.Prefix{}); !errdefs.IsConflict(err) {
		t.Fatalf("unset while held: %v", err)
	}
	// A reloaded book keeps the subnet and the lease.
	b2, err := LoadBook(b.State())
	if err != nil {
		t.Fatal(err)
	}
	b2.Detach("c1", hp)
	if old, changed, err := b2.SetBridgeIPv6(netip.Prefix{}); err != nil || !changed || old.Subnet6.String() != "fd00:1::/64" {
		t.Fatalf("unset: %+v %v %v", old, changed, err)
	}
	nics, err = b2.Attach("c1", hp)
	if err != nil || nics[0].Address6.IsValid() {
		t.Fatalf("attach without IPv6: %+v %v", nics, err)
	}
}

// TestContainerNetworkIPv6: a container network with an IPv6 gateway and
// range gives addresses of the range only; --ip6 outside it is refused.
func TestContainerNetworkIPv6(t *testing.T) {
	br := Network{ID: NewID(), Name: BridgeName, Driver: "bridge", Subnet: netip.MustParsePrefix("172.16.0.0/16"), Gateway: netip.MustParseAddr("172.16.0.1"), Bridge: "vchb0"}
	b, err := NewBook(br)
	if err != nil {
		t.Fatal(err)
	}
	s := publicSpec()
	s.Gateway6 = netip.MustParsePrefix("fd00:3::1/64")
	s.RangeFrom6, s.RangeTo6 = netip.MustParseAddr("fd00:3::10"), netip.MustParseAddr("fd00:3::11")
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); err != nil {
		t.Fatal(err)
	}
	n, _ := b.Network("public")
	if n.Subnet6.String() != "fd00:3::/64" || n.Gateway6.String() != "fd00:3::1" {
		t.Fatalf("network: %+v", n)
	}
	if _, err := b.Join("x", EndpointSpec{Network: "public", IPv6: netip.MustParseAddr("fd00:3::50")}); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("--ip6 outside the range: %v", err)
	}
	hp := &hostPorts{}
	for i, c := range []string{"c1", "c2"} {
		if _, err := b.Join(c, EndpointSpec{Network: "public"}); err != nil {
			t.Fatal(err)
		}
		nics, err := b.Attach(c, hp)
		want := []string{"fd00:3::10/64", "fd00:3::11/64"}[i]
		if err != nil || len(nics) != 1 || nics[0].Address6.String() != want || nics[0].Gateway6.String() != "fd00:3::1" {
			t.Fatalf("attach %s: %+v %v", c, nics, err)
		}
	}
	// The IPv6 range is exhausted: the third start fails and holds nothing.
	if _, err := b.Join("c3", EndpointSpec{Network: "public"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Attach("c3", hp); err == nil {
		t.Fatal("third container got an address of a 2-address IPv6 range")
	}
	if n := b.Leases(); n != 4 {
		t.Fatalf("%d leases (IPv4 and IPv6) after the refused start, want 4", n)
	}
	// Its addressing cannot change while containers are on it.
	s.Gateway6 = netip.MustParsePrefix("fd00:4::1/64")
	s.RangeFrom6, s.RangeTo6 = netip.MustParseAddr("fd00:4::10"), netip.MustParseAddr("fd00:4::11")
	if _, _, err := b.SetContainerNetworks([]ContainerNetworkSpec{s}); !errdefs.IsConflict(err) {
		t.Fatalf("change while in use: %v", err)
	}
}
