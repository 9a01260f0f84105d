package local

import (
	"net/netip"
	"strings"
	"testing"

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
		in, out := chainRules(c.level, members)
		if join(in) != c.in || join(out) != c.out {
			t.Errorf("%s:\nin:\n%s\nout:\n%s", c.level, join(in), join(out))
		}
	}
	n := network.Network{ID: strings.Repeat("ab", 32), Firewall: network.FirewallClosed}
	got := string(restoreInput([]network.Network{n}, map[string][]firewallMember{n.ID: members[:1]}))
	want := "*mangle\n:vchi-ababababab - [0:0]\n:vcho-ababababab - [0:0]\n-A vchi-ababababab -d 10.3.0.10/32 -j DROP\n-A vcho-ababababab -s 10.3.0.10/32 -j DROP\nCOMMIT\n"
	if got != want {
		t.Fatalf("restore input:\n%s\nwant:\n%s", got, want)
	}
}
