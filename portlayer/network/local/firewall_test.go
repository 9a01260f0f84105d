package local

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vchproject/vch/portlayer/network"
)

// The chains of each firewall level, for two containers (a publishes
// 80/tcp).
func TestFirewallChains(t *testing.T) {
	a, b := netip.MustParseAddr("10.3.0.10"), netip.MustParseAddr("10.3.0.11")
	members := []firewallMember{
		{addr: a, ports: []network.PortBinding{{Proto: "tcp", ContainerPort: 80, HostIP: a, HostPort: 80}}},
		{addr: b},
	}
	join := func(rs [][]string) string {
		var out []string
		for _, r := range rs {
			out = append(out, strings.Join(r, " "))
		}
		return strings.Join(out, "\n")
	}
	est := "-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN"
	dropIn := "-d 10.3.0.10/32 -j DROP\n-d 10.3.0.11/32 -j DROP"
	dropOut := "-s 10.3.0.10/32 -j DROP\n-s 10.3.0.11/32 -j DROP"
	for _, c := range []struct{ level, in, out string }{
		{network.FirewallOpen, "", ""},
		{network.FirewallClosed, dropIn, dropOut},
		{network.FirewallOutbound, est + "\n" + dropIn, ""},
		{network.FirewallPublished, est + "\n-d 10.3.0.10/32 -p tcp -m tcp --dport 80 -j RETURN\n" + dropIn, ""},
		{network.FirewallPeers, est + "\n-s 10.3.0.10/32 -j RETURN\n-s 10.3.0.11/32 -j RETURN\n" + dropIn,
			est + "\n-d 10.3.0.10/32 -j RETURN\n-d 10.3.0.11/32 -j RETURN\n" + dropOut},
	} {
		in, out := chainRules(c.level, members, netip.Addr{})
		if join(in) != c.in || join(out) != c.out {
			t.Errorf("%s:\nin:\n%s\nout:\n%s", c.level, join(in), join(out))
		}
	}
	n := network.Network{ID: strings.Repeat("ab", 32), Firewall: network.FirewallClosed}
	got := string(restoreInput([]network.Network{n}, map[string][]firewallMember{n.ID: members[:1]}, false))
	want := "*mangle\n:vchi-ababababab - [0:0]\n:vcho-ababababab - [0:0]\n-A vchi-ababababab -d 10.3.0.10/32 -j DROP\n-A vcho-ababababab -s 10.3.0.10/32 -j DROP\nCOMMIT\n"
	if got != want {
		t.Fatalf("restore input:\n%s\nwant:\n%s", got, want)
	}
	// IPv6: only networks with IPv6, only IPv6 members (/128), neighbour
	// discovery first.
	n6 := n
	n6.Subnet6 = netip.MustParsePrefix("fd00:3::/64")
	v6m := []firewallMember{members[0], {addr: netip.MustParseAddr("fd00:3::10")}}
	got = string(restoreInput([]network.Network{n, n6}, map[string][]firewallMember{n.ID: v6m}, true))
	nd := "-p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j RETURN\n-A %[1]s -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j RETURN\n"
	want = "*mangle\n:vchi-ababababab - [0:0]\n:vcho-ababababab - [0:0]\n" +
		fmt.Sprintf("-A %[1]s "+nd, "vchi-ababababab") + "-A vchi-ababababab -d fd00:3::10/128 -j DROP\n" +
		fmt.Sprintf("-A %[1]s "+nd, "vcho-ababababab") + "-A vcho-ababababab -s fd00:3::10/128 -j DROP\nCOMMIT\n"
	if got != want {
		t.Fatalf("IPv6 restore input:\n%s\nwant:\n%s", got, want)
	}
	// peers: the containers' queries to the VCH's DNS on the network pass.
	_, out := chainRules(network.FirewallPeers, members[:1], netip.MustParseAddr("10.3.0.1"))
	if !strings.Contains(join(out), "-d 10.3.0.1/32 -p udp -m udp --dport 53 -j RETURN\n-d 10.3.0.1/32 -p tcp -m tcp --dport 53 -j RETURN\n") {
		t.Fatalf("peers with DNS, out chain:\n%s", join(out))
	}
}

// A container network's host side: a missing bridge is made with the
// gateway address, an existing one is used as found; the chains follow
// the active containers; Destroy removes the made bridge, rules and
// chains and leaves the found bridge.
func TestContainerNetworkHost(t *testing.T) {
	ctx := context.Background()
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cnfound"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if l, err := netlink.LinkByName("cnfound"); err == nil {
			_ = netlink.LinkDel(l)
		}
	})
	spec := func(name, br, net, level string) network.ContainerNetworkSpec {
		return network.ContainerNetworkSpec{Name: name, Bridge: br, Gateway: netip.MustParsePrefix(net + ".1/24"),
			RangeFrom: netip.MustParseAddr(net + ".10"), RangeTo: netip.MustParseAddr(net + ".20"), Firewall: level}
	}
	root := t.TempDir()
	p, err := New(Config{Root: root, ContainerNetworks: []network.ContainerNetworkSpec{
		spec("public", "cnmade", "10.77.1", ""), spec("lab", "cnfound", "10.77.2", network.FirewallClosed),
	}})
	if err != nil {
		t.Fatal(err)
	}
	made, err := netlink.LinkByName("cnmade")
	if err != nil {
		t.Fatal(err)
	}
	if addrs, _ := netlink.AddrList(made, netlink.FAMILY_V4); len(addrs) != 1 || addrs[0].IPNet.String() != "10.77.1.1/24" {
		t.Fatalf("made bridge's addresses: %v", addrs)
	}
	found, _ := netlink.LinkByName("cnfound")
	if addrs, _ := netlink.AddrList(found, netlink.FAMILY_V4); len(addrs) != 0 {
		t.Fatalf("found bridge got addresses: %v", addrs)
	}
	pub, _ := p.Network(ctx, "public")
	if _, err := p.Join(ctx, "c1", network.EndpointSpec{Network: "public", Ports: []network.PortBinding{{Proto: "tcp", ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Attach(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	save := iptablesSave(t)
	if !strings.Contains(save, "-A "+chainIn(pub)+" -d 10.77.1.10/32 -p tcp -m tcp --dport 80 -j RETURN") {
		t.Fatalf("published port not in %s:\n%s", chainIn(pub), save)
	}
	if leases, proxies := p.Counts(); leases != 1 || proxies != 0 {
		t.Fatalf("%d leases, %d proxies", leases, proxies)
	}
	if err := p.Detach(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if save := iptablesSave(t); strings.Contains(save, "10.77.1.10") {
		t.Fatalf("rules of a detached container left:\n%s", save)
	}
	p.Close()
	if err := Destroy(root); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName("cnmade"); err == nil {
		t.Fatal("made bridge left")
	}
	if _, err := netlink.LinkByName("cnfound"); err != nil {
		t.Fatalf("found bridge removed: %v", err)
	}
	if save := iptablesSave(t); strings.Contains(save, "vchi-") || strings.Contains(save, "vcho-") || strings.Contains(save, "vch:cn") {
		t.Fatalf("rules or chains left:\n%s", save)
	}
}
