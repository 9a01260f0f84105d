package local

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vchproject/vch/portlayer/network"
)

func ip6tablesSave(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip6tables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("ip6tables-save: %v: %s", err, out)
	}
	return string(out)
}

func hasAddr6(t *testing.T, bridge, want string) bool {
	t.Helper()
	l, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := netlink.AddrList(l, netlink.FAMILY_V6)
	for _, a := range addrs {
		if a.IPNet.String() == want {
			return true
		}
	}
	return false
}

// TestBridgeIPv6Host: Config.BridgeIPv6 puts the IPv6 gateway on the VCH's
// bridge with ip6tables MASQUERADE; a vchd started without it removes
// both; Destroy leaves no ip6tables rule.
func TestBridgeIPv6Host(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	p, err := New(Config{Root: root, BridgeIPv6: netip.MustParsePrefix("fd00:77:b::/64")})
	if err != nil {
		t.Fatal(err)
	}
	br := BridgeName(root)
	if !hasAddr6(t, br, "fd00:77:b::1/64") {
		t.Fatal("no IPv6 gateway on the bridge")
	}
	if save := ip6tablesSave(t); !strings.Contains(save, "-A POSTROUTING -s fd00:77:b::/64 ! -o "+br+" -m comment --comment \"vch:"+br+"\" -j MASQUERADE") {
		t.Fatalf("no IPv6 MASQUERADE:\n%s", save)
	}
	if _, err := p.Join(ctx, "c1", network.EndpointSpec{Network: network.BridgeName}); err != nil {
		t.Fatal(err)
	}
	nics, err := p.Attach(ctx, "c1")
	if err != nil || len(nics) != 1 || nics[0].Address6.String() != "fd00:77:b::2/64" {
		t.Fatalf("attach: %+v %v", nics, err)
	}
	if leases, _ := p.Counts(); leases != 2 {
		t.Fatalf("%d leases, want 2 (IPv4 and IPv6)", leases)
	}
	p.Close()
	// A running container holds an address: the subnet cannot go.
	if _, err := New(Config{Root: root}); err == nil {
		t.Fatal("dropped the bridge's IPv6 while a container holds an address of it")
	}
	p, err = New(Config{Root: root, BridgeIPv6: netip.MustParsePrefix("fd00:77:b::/64")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Detach(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if p, err = New(Config{Root: root}); err != nil {
		t.Fatal(err)
	}
	if hasAddr6(t, br, "fd00:77:b::1/64") || strings.Contains(ip6tablesSave(t), "vch:") {
		t.Fatalf("IPv6 left after it was dropped:\n%s", ip6tablesSave(t))
	}
	p.Close()
	if err := Destroy(root); err != nil {
		t.Fatal(err)
	}
}

// TestContainerNetworkIPv6Host: a container network with IPv6 gets its
// IPv6 gateway on the bridge vchd made, the VCH's DNS address, its
// firewall chains in ip6tables with the containers' IPv6 addresses, and
// Destroy removes them.
func TestContainerNetworkIPv6Host(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	p, err := New(Config{Root: root, ContainerNetworks: []network.ContainerNetworkSpec{{
		Name: "pub6", Bridge: "cnmade6", Gateway: netip.MustParsePrefix("10.77.3.1/24"),
		RangeFrom: netip.MustParseAddr("10.77.3.10"), RangeTo: netip.MustParseAddr("10.77.3.20"),
		Gateway6:   netip.MustParsePrefix("fd00:77:3::1/64"),
		RangeFrom6: netip.MustParseAddr("fd00:77:3::10"), RangeTo6: netip.MustParseAddr("fd00:77:3::20"),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if !hasAddr6(t, "cnmade6", "fd00:77:3::1/64") {
		t.Fatal("no IPv6 gateway on the made bridge")
	}
	n, _ := p.Network(ctx, "pub6")
	if n.DNSAddr.String() != "10.77.3.1" || n.Subnet6.String() != "fd00:77:3::/64" {
		t.Fatalf("network: %+v", n)
	}
	if _, err := p.Join(ctx, "c1", network.EndpointSpec{Network: "pub6", Ports: []network.PortBinding{{Proto: "tcp", ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	nics, err := p.Attach(ctx, "c1")
	if err != nil || len(nics) != 1 || nics[0].Address6.String() != "fd00:77:3::10/64" || len(nics[0].DNS) != 1 || nics[0].DNS[0] != n.DNSAddr {
		t.Fatalf("attach: %+v %v", nics, err)
	}
	save := ip6tablesSave(t)
	for _, want := range []string{
		"-A " + chainIn(n) + " -d fd00:77:3::10/128 -p tcp -m tcp --dport 80 -j RETURN",
		"-A " + chainIn(n) + " -d fd00:77:3::10/128 -j DROP",
		"-A FORWARD -o cnmade6 -m comment --comment \"vch:cnmade6\" -j " + chainIn(n),
	} {
		if !strings.Contains(save, want) {
			t.Fatalf("no %q in ip6tables:\n%s", want, save)
		}
	}
	if err := p.Detach(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if save := ip6tablesSave(t); strings.Contains(save, "fd00:77:3::10") {
		t.Fatalf("rules of a detached container left:\n%s", save)
	}
	p.Close()
	if err := Destroy(root); err != nil {
		t.Fatal(err)
	}
	if save := ip6tablesSave(t); strings.Contains(save, "vchi-") || strings.Contains(save, "vcho-") || strings.Contains(save, "vch:") {
		t.Fatalf("ip6tables rules or chains left:\n%s", save)
	}
}
